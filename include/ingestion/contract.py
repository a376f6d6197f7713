"""The landing contract's shape: sources, their columns and key columns, the landing key layout and the reason codes
a whole file or key is turned away with.

docs/landing-contract.md is the prose version; keep the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

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

FORMATS = {".csv": "csv", ".csv.gz": "csv.gz", ".parquet": "parquet"}

# Why a key is not a delivery (parse_key). The file is never read.
KEY_REASONS: dict[str, str] = {
    "bad_layout": "the key is not <source>/dt=YYYY-MM-DD/<file name> (wrong depth, no dt= folder, empty name)",
    "unknown_source": "the first folder is not a contract source",
    "bad_date": "dt= is not a real calendar date",
    "unsupported_format": "the file name does not end in .csv, .csv.gz or .parquet",
}
# Why a file's content cannot be loaded at all (include/ingestion/readers.py).
FILE_REASONS: dict[str, str] = {
    "empty_file": "0 bytes, or a gzip that inflates to 0 bytes",
    "header_only": "a header and no data rows",
    "no_header": "the first row names no contract column",
    "not_declared_format": "the bytes are not the format the extension declares (bad or truncated gzip, "
                           "a .parquet that is not Parquet, a .csv that is Parquet or gzip), or Parquet columns "
                           "that cannot be read as text",
    "bad_encoding": "CSV text (or Parquet text) that is not valid UTF-8",
    "missing_key_column": "the source's key column is not in the header",
    "bad_header": "a column name that is blank, duplicated, too long, not letters/digits/_ only, starts with _ or $, "
                  "or too many columns the contract does not name",
    "malformed_csv": "a row with a different number of fields than the header, broken quoting, or a row longer "
                     "than the reader's block",
    "too_large": "more inflated bytes or rows than the loader's limits",
    "unreadable": "any other error while reading the file (e.g. a corrupt Parquet page)",
}
REASON_CODES: dict[str, str] = {**KEY_REASONS, **FILE_REASONS}

_KEY_PATTERN = re.compile(r"^(?P<source>[^/]+)/dt=(?P<dt>[^/]*)/(?P<name>[^/]+)$")
_DT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class LandingKey:
    source: str
    dt: str
    name: str
    fmt: str


class Rejected(ValueError):
    """Turned away with a reason code from REASON_CODES and a short detail that never carries a cell value."""

    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}")


class LayoutError(Rejected):
    """A landing key outside `<source>/dt=YYYY-MM-DD/<file>.<csv|csv.gz|parquet>`; code is one of KEY_REASONS."""


def _shown(text: str) -> str:
    """Key parts are file-level facts, but keep them short and printable in alerts."""
    text = text if len(text) <= 40 else text[:40] + "..."
    return repr(text) if text.isprintable() else "(non-printable)"


def parse_key(key: str) -> LandingKey:
    match = _KEY_PATTERN.match(key)
    if not match:
        raise LayoutError("bad_layout", "key does not follow <source>/dt=YYYY-MM-DD/<file name>")
    source, dt, name = match["source"], match["dt"], match["name"]
    if source not in COLUMNS:
        raise LayoutError("unknown_source", f"unknown source {_shown(source)}; expected one of {', '.join(COLUMNS)}")
    if not _DT_PATTERN.match(dt):
        raise LayoutError("bad_layout", f"dt={_shown(dt)} does not follow dt=YYYY-MM-DD")
    try:
        date.fromisoformat(dt)
    except ValueError:
        raise LayoutError("bad_date", f"dt={dt} is not a calendar date") from None
    fmt = next((f for suffix, f in sorted(FORMATS.items(), key=lambda kv: -len(kv[0]))
                if name.lower().endswith(suffix)), None)
    if fmt is None:
        raise LayoutError("unsupported_format", "unsupported file type; expected .csv, .csv.gz or .parquet")
    return LandingKey(source, dt, name, fmt)
