"""The landing contract's shape: sources, their columns and key columns, and the landing key layout.

docs/landing-contract.md is the prose version; keep the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COLUMNS: dict[str, tuple[str, ...]] = {
    "assets": ("asset_id", "symbol", "asset_name", "asset_class", "sector", "currency", "exchange", "isin",
               "risk_rating", "is_active", "updated_at"),
    "clients": ("client_id", "first_name", "last_name", "email", "country_code", "date_of_birth", "segment",
                "risk_profile", "kyc_status", "onboarded_at", "updated_at"),
    "transactions": ("transaction_id", "client_id", "asset_id", "transaction_type", "quantity", "price", "amount",
                     "fee", "currency", "executed_at", "channel", "status", "updated_at"),
}
KEY_COLUMN = {"assets": "asset_id", "clients": "client_id", "transactions": "transaction_id"}

# Load metadata stored beside every raw row.
META_COLUMNS = ("_source_file", "_source_etag", "_source_row", "_ingested_at", "_batch_id")

_KEY_PATTERN = re.compile(r"^(?P<source>[^/]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/(?P<name>[^/]+)$")
FORMATS = {".csv": "csv", ".csv.gz": "csv.gz", ".parquet": "parquet"}


@dataclass(frozen=True)
class LandingKey:
    source: str
    dt: str
    name: str
    fmt: str


class LayoutError(ValueError):
    """A landing key that does not follow `<source>/dt=YYYY-MM-DD/<file>.<csv|csv.gz|parquet>`."""


def parse_key(key: str) -> LandingKey:
    match = _KEY_PATTERN.match(key)
    if not match:
        raise LayoutError("key does not follow <source>/dt=YYYY-MM-DD/<file name>")
    source, dt, name = match["source"], match["dt"], match["name"]
    if source not in COLUMNS:
        raise LayoutError(f"unknown source {source!r}; expected one of {', '.join(COLUMNS)}")
    fmt = next((f for suffix, f in sorted(FORMATS.items(), key=lambda kv: -len(kv[0]))
                if name.lower().endswith(suffix)), None)
    if fmt is None:
        raise LayoutError("unsupported file type; expected .csv, .csv.gz or .parquet")
    return LandingKey(source, dt, name, fmt)
