"""Numbers to the canonical text a clean delivery carries, vectorised with pyarrow.compute.

Canonical means: lower-case enumerations, upper-case codes, `true`/`false`, timestamps as
`YYYY-MM-DDTHH:MM:SSZ`, plain decimals, and null (written as an empty field) for missing values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from devtools.datagen.batch import CHANNELS, CURRENCIES, NO_VALUE, STATUSES, TYPES, TradeBatch
from devtools.datagen.contract import COLUMNS
from devtools.datagen.reference import NO_DATE


def _str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def decimals(units: np.ndarray, scale_digits: int, trim: bool, empty: np.ndarray | None = None) -> pa.Array:
    """Non-negative scaled integers as decimal text (`trim` drops trailing zeros: 12.5000 -> 12.5, 3.0000 -> 3)."""
    scale = 10**scale_digits
    text = join(_str(units // scale), ".", pc.utf8_lpad(_str(units % scale), scale_digits, "0"))
    if trim:
        text = pc.utf8_rtrim(pc.utf8_rtrim(text, "0"), ".")
    return text if empty is None else pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), text)


def timestamps(epoch_seconds: np.ndarray) -> pa.Array:
    """Canonical `YYYY-MM-DDTHH:MM:SSZ` (cast + patch: ~4x faster than pc.strftime, same text)."""
    text = pc.cast(pa.array(np.asarray(epoch_seconds, dtype=np.int64), pa.timestamp("s")), pa.string())
    return join(pc.replace_substring(text, " ", "T"), "Z")


def dates(epoch_days: np.ndarray) -> pa.Array:
    """Dates as YYYY-MM-DD; `reference.NO_DATE` means "no date" (null)."""
    days = np.asarray(epoch_days, dtype=np.int64)
    missing = days == NO_DATE
    text = pc.cast(pa.array(np.where(missing, 0, days).astype(np.int32), pa.date32()), pa.string())
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)


def transaction_ids(id_day: np.ndarray, seq: np.ndarray) -> pa.Array:
    return join("T", _str(id_day), pc.utf8_lpad(_str(seq), 8, "0"))


def transaction_id(id_day: int, seq: int) -> str:
    return f"T{id_day}{seq:08d}"


def _lookup(values, codes: np.ndarray) -> pa.Array:
    return pa.array(list(values), pa.string()).take(pa.array(codes))


def transactions_table(b: TradeBatch, client_ids: pa.Array, asset_ids: pa.Array) -> pa.Table:
    """A batch as a table of strings with the contract's columns in contract order."""
    no_asset = b.asset == NO_VALUE
    asset = asset_ids.take(pa.array(np.maximum(b.asset, 0)))
    asset = pc.if_else(pa.array(no_asset), pa.scalar(None, pa.string()), asset)
    no_trade = b.qty == 0
    columns = {
        "transaction_id": transaction_ids(b.id_day, b.seq),
        "client_id": client_ids.take(pa.array(b.client)),
        "asset_id": asset,
        "transaction_type": _lookup(TYPES, b.ttype),
        "quantity": decimals(b.qty, 4, trim=True, empty=no_trade),
        "price": decimals(b.price, 4, trim=True, empty=no_trade),
        "amount": decimals(b.amount, 2, trim=False),
        "fee": decimals(np.maximum(b.fee, 0), 2, trim=False, empty=b.fee == NO_VALUE),
        "currency": _lookup(CURRENCIES, b.currency),
        "executed_at": timestamps(b.executed),
        "channel": _lookup(CHANNELS, b.channel),
        "status": _lookup(STATUSES, b.status),
        "updated_at": timestamps(b.updated),
    }
    return pa.table({name: columns[name] for name in COLUMNS["transactions"]})


def _empty_to_null(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def reference_table(df: pd.DataFrame, source: str) -> pa.Table:
    """Assets or clients rows (typed, as kept in the plan) as a table of strings in contract order."""
    columns: dict[str, pa.Array] = {}
    for name in COLUMNS[source]:
        values = df[name]
        if name in ("updated_at", "onboarded_at"):
            columns[name] = timestamps(values.to_numpy())
        elif name == "date_of_birth":
            columns[name] = dates(values.to_numpy())
        elif name == "is_active":
            columns[name] = pa.array(np.where(values.to_numpy(dtype=bool), "true", "false"))
        elif name == "risk_rating":
            columns[name] = _str(values.to_numpy(dtype=np.int64))
        else:
            columns[name] = _empty_to_null(pa.array(values.astype(str)).cast(pa.string()))
    return pa.table(columns)

