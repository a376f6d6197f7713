"""Rows that break one contract rule each (dbt keeps them, with the reason, out of the clean models).

Each builder copies a clean template row, gives it a fresh key (so it can never shadow a real record), and breaks
exactly one rule; the audit's rule order (missing id first, orphan reference last) then names that rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

REJECT_KINDS = (
    "missing_id", "bad_timestamp", "unparseable_number", "unknown_enum",
    "nonpositive_quantity_price", "amount_mismatch", "orphan_reference",
)  # fmt: skip
REJECTS_BY_SOURCE = {
    "transactions": REJECT_KINDS,
    "clients": ("missing_id", "bad_timestamp", "unknown_enum"),
    "assets": ("missing_id", "bad_timestamp", "unparseable_number", "unknown_enum"),
}
BAD_TIMESTAMPS = ("2026-13-45T25:61:00Z", "not-a-date", "31/11/2026 10:15", "2026-02-30 09:00:00", "20261120T")
BAD_NUMBERS = ("12..5", "abc", "1,5", "1.2.3", "--3", "7e")
UNKNOWN_ENUMS = {
    "transaction_type": ("transfer", "split", "interest"),
    "channel": ("fax", "branch"),
    "status": ("reversed", "unknown"),
    "segment": ("vip", "private"),
    "kyc_status": ("unknown", "in_review"),
    "risk_profile": ("speculative",),
    "asset_class": ("derivative", "option", "warrant"),
}


class FreshIds:
    """Keys no clean record uses: C9xxxxxx clients, A9xxxx assets (the generator caps real ids below those)."""

    def __init__(self) -> None:
        self.clients = 0
        self.assets = 0

    def client(self) -> str:
        self.clients += 1
        return f"C9{self.clients:06d}"

    def asset(self) -> str:
        self.assets += 1
        return f"A9{self.assets:04d}"


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _money(value: float) -> str:
    return f"{value:.2f}"


def _nonpositive(row: dict, out: dict, rng: np.random.Generator) -> None:
    # amount stays qty x price, so the only broken rule is the sign.
    if rng.random() < 0.5:
        out["quantity"], out["amount"] = _pick(rng, (("0", "0.00"), (f"-{row['quantity']}", f"-{row['amount']}")))
    else:
        out["price"], out["amount"] = "0", "0.00"


def _orphan(out: dict, rng: np.random.Generator, fresh: FreshIds) -> None:
    if rng.random() < 0.5:
        out["client_id"] = fresh.client()
    else:
        out["asset_id"] = fresh.asset()


def transaction_reject(kind: str, row: dict, rng: np.random.Generator, new_id: Callable[[], str], fresh: FreshIds):
    """`row` is a clean buy or sell; returns a copy with a new id that breaks rule `kind`.

    The copy is also moved 1-3 hours earlier so it never sits next to its template as a duplicate suspect.
    """
    out = dict(row, transaction_id=new_id())
    shift = timedelta(seconds=int(rng.integers(3_600, 3 * 3_600)))
    for col in ("executed_at", "updated_at"):
        moved = datetime.strptime(row[col], "%Y-%m-%dT%H:%M:%SZ") - shift
        out[col] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "missing_id":
        out["transaction_id"] = _pick(rng, ("", "NULL"))
    elif kind == "bad_timestamp":
        out[_pick(rng, ("executed_at", "updated_at"))] = _pick(rng, BAD_TIMESTAMPS)
    elif kind == "unparseable_number":
        out[_pick(rng, ("quantity", "price", "amount"))] = _pick(rng, BAD_NUMBERS)
    elif kind == "unknown_enum":
        column = _pick(rng, ("transaction_type", "channel", "status"))
        out[column] = _pick(rng, UNKNOWN_ENUMS[column])
    elif kind == "nonpositive_quantity_price":
        _nonpositive(row, out, rng)
    elif kind == "amount_mismatch":
        out["amount"] = _money(float(row["quantity"]) * float(row["price"]) * 1.1 + 1.0)
    elif kind == "orphan_reference":
        _orphan(out, rng, fresh)
    else:
        raise ValueError(kind)
    return out


def reference_reject(kind: str, source: str, row: dict, rng: np.random.Generator, fresh: FreshIds) -> dict:
    """A clients or assets row under a fresh id (or none) breaking rule `kind`."""
    key = "client_id" if source == "clients" else "asset_id"
    out = dict(row, **{key: fresh.client() if source == "clients" else fresh.asset()})
    if kind == "missing_id":
        out[key] = _pick(rng, ("", "NULL"))
    elif kind == "bad_timestamp":
        column = _pick(rng, ("onboarded_at", "updated_at")) if source == "clients" else "updated_at"
        out[column] = _pick(rng, BAD_TIMESTAMPS)
    elif kind == "unparseable_number":
        out["risk_rating"] = _pick(rng, ("high", "5.5.1", "x"))
    elif kind == "unknown_enum":
        column = _pick(rng, ("segment", "kyc_status", "risk_profile")) if source == "clients" else "asset_class"
        out[column] = _pick(rng, UNKNOWN_ENUMS[column])
    else:
        raise ValueError(kind)
    return out
