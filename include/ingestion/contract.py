"""The loader's view of the landing contract (include/contract.yml): sources, their columns and key columns, the
landing key layout and the reason codes a whole file or key is turned away with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from include.contract import contract

_CONTRACT = contract()
COLUMNS: dict[str, tuple[str, ...]] = _CONTRACT.columns
KEY_COLUMN: dict[str, str] = _CONTRACT.key_columns
# Load metadata stored beside every raw row.
META_COLUMNS: tuple[str, ...] = _CONTRACT.meta_columns
FORMATS: dict[str, str] = dict(_CONTRACT.formats)
# Why a key is not a delivery (parse_key). The file is never read.
KEY_REASONS: dict[str, str] = dict(_CONTRACT.reasons["key"])
# Why a file's content cannot be loaded at all (include/ingestion/readers.py).
FILE_REASONS: dict[str, str] = dict(_CONTRACT.reasons["file"])
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
