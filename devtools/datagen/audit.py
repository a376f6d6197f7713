"""An independent re-read of a generated landing directory: what each file and row really contains.

It parses the bytes on disk with the standard library (csv, gzip) and pyarrow's Parquet reader, applies the
contract's rules, and reports broken files, file shapes, dirty rows and the clean, latest version of every
record. It never looks at the generator's bookkeeping, only at the upload order, so tests can compare its
findings with the manifest. Meant for small runs (plain Python per row).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path

import pandas as pd

from devtools.datagen.contract import (
    CODE_COLUMNS,
    COLUMNS,
    ENUM_COLUMNS,
    ENUMS,
    FALSE_SPELLINGS,
    KEY_COLUMN,
    TIMESTAMP_COLUMNS,
    TRUE_SPELLINGS,
    clean_text,
    parse_boolean,
)

ISO_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$")
CANONICAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
INTEGER = re.compile(r"^[+-]?\d+$")
LANDING_DT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")
# The dbt project's staging bounds (dbt_project.yml vars) and its ISO 4217 seed.
MAX_INTEGER_DIGITS = 11
EXECUTED_AT_MAX_DAYS_BEFORE_DT = 30
EXECUTED_AT_SKEW = timedelta(hours=14)
ISO_4217_SEED = Path(__file__).resolve().parents[2] / "dbt" / "lakehouse" / "seeds" / "iso_4217_currencies.csv"


class BrokenFile(Exception):
    """A file the loader must quarantine; the message is the reason."""


def source_of(key: str) -> str:
    return key.split("/", 1)[0]


def read_rows(key: str, data: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a delivered file, or BrokenFile with the quarantine reason."""
    if not data:
        raise BrokenFile("empty_file")
    if key.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - any failure means "not Parquet"
            raise BrokenFile("parquet_is_csv") from exc
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        rows = [["" if v is None else str(v) for v in values] for values in zip(*columns, strict=True)]
        header = list(table.column_names)
    else:
        if key.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise BrokenFile("truncated_gzip") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BrokenFile("invalid_utf8") from exc
        parsed = list(csv.reader(io.StringIO(text, newline="")))
        header, rows = (parsed[0], parsed[1:]) if parsed else ([], [])
    if not rows:
        raise BrokenFile("header_only")
    if KEY_COLUMN[source_of(key)] not in [h.strip().lower() for h in header]:
        raise BrokenFile("missing_key_column")
    return header, rows


def clean(value: str | None) -> str | None:
    """The contract's cell cleaning: trim, and null tokens (any case) become null, as dbt's clean_text does."""
    return clean_text(value)


def parse_ts(value: str | None) -> datetime | None:
    """ISO 8601 with T or space, Z/offset/naive (naive = UTC); None if it does not parse."""
    if value is None or not ISO_TS.match(value):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _bad_date(value: str | None) -> bool:
    if value is None:
        return False
    try:
        date.fromisoformat(value)
        return not re.match(r"^\d{4}-\d{2}-\d{2}$", value)
    except ValueError:
        return True


@cache
def iso_currencies() -> frozenset[str]:
    lines = ISO_4217_SEED.read_text(encoding="utf-8").splitlines()[1:]
    return frozenset(line.split(",", 1)[0] for line in lines if line)


def _out_of_range(text: str | None) -> bool:
    """A plain decimal past decimal(28,8)'s scale or with more integer digits than staging allows."""
    if text is None or not NUMBER.match(text):
        return False
    value = Decimal(text)
    return abs(value) >= Decimal(10) ** MAX_INTEGER_DIGITS or value != value.quantize(Decimal("1e-8"))


def _implausible(executed_at: datetime, key: str) -> bool:
    """executed_at too long before the key's dt, or after that day's end plus the skew."""
    match = LANDING_DT.search(key)
    if not match:
        return False
    start = datetime.fromisoformat(match.group(1)).replace(tzinfo=timezone.utc)
    return not (start - timedelta(days=EXECUTED_AT_MAX_DAYS_BEFORE_DT) <= executed_at
                < start + timedelta(days=1) + EXECUTED_AT_SKEW)


def _reject_transaction(r: dict, key: str) -> str | None:
    """The first rule a cleaned transaction breaks (orphan references are checked later, with the references)."""
    if r["transaction_id"] is None:
        return "missing_id"
    if parse_ts(r["executed_at"]) is None or parse_ts(r["updated_at"]) is None:
        return "bad_timestamp"
    if _implausible(parse_ts(r["executed_at"]), key):
        return "implausible_timestamp"
    if any(r[c] is not None and not NUMBER.match(r[c]) for c in ("quantity", "price", "amount", "fee")):
        return "unparseable_number"
    if any(_out_of_range(r[c]) for c in ("quantity", "price", "amount", "fee")):
        return "out_of_range"
    if any(r[c] is None or r[c].lower() not in ENUMS[c] for c in ENUM_COLUMNS["transactions"]):
        return "unknown_enum"
    if r["currency"] is None or r["currency"].upper() not in iso_currencies():
        return "unknown_currency"
    return _reject_amounts(r)


def _reject_amounts(r: dict) -> str | None:
    kind = r["transaction_type"].lower()
    if kind in ("buy", "sell"):
        if r["quantity"] is None or r["price"] is None or float(r["quantity"]) <= 0 or float(r["price"]) <= 0:
            return "nonpositive_quantity_price"
        if r["amount"] is None or abs(float(r["amount"]) - float(r["quantity"]) * float(r["price"])) > 0.01 + 1e-9:
            return "amount_mismatch"
    elif r["amount"] is None or float(r["amount"]) <= 0:
        return "nonpositive_amount"
    return None


def _reject_reference(source: str, r: dict) -> str | None:
    if r[KEY_COLUMN[source]] is None:
        return "missing_id"
    if any(parse_ts(r[c]) is None for c in TIMESTAMP_COLUMNS[source]):
        return "bad_timestamp"
    if source == "clients" and _bad_date(r["date_of_birth"]):
        return "bad_timestamp"
    if source == "assets" and r["risk_rating"] is not None and not INTEGER.match(r["risk_rating"]):
        return "unparseable_number"
    if source == "assets" and r["risk_rating"] is not None and not -(2**31) <= int(r["risk_rating"]) < 2**31:
        return "out_of_range"
    if any(r[c] is None or r[c].lower() not in ENUMS[c] for c in ENUM_COLUMNS[source]):
        return "unknown_enum"
    if source == "assets" and parse_boolean(r["is_active"]) is None:
        return "unknown_enum"
    return None


def cosmetic_kinds(source: str, raw: dict) -> list[str]:
    """Spelling-only dirt on a valid row (each may be present at most once per row)."""
    kinds = []
    stripped = {c: (v.strip() if v is not None else None) for c, v in raw.items()}
    if any(v is not None and v != v.strip() for v in raw.values()):
        kinds.append("whitespace")
    if any(stripped[c] and stripped[c] != stripped[c].lower() for c in ENUM_COLUMNS[source]):
        kinds.append("mixed_case_enum")
    if any(stripped[c] and stripped[c] != stripped[c].upper() for c in CODE_COLUMNS[source]):
        kinds.append("lowercase_code")
    if any(v and clean_text(v) is None for v in stripped.values()):
        kinds.append("null_token")
    if source == "assets" and stripped["is_active"] not in (TRUE_SPELLINGS[0], FALSE_SPELLINGS[0]):
        kinds.append("boolean_spelling")
    if any(stripped[c] and not CANONICAL_TS.match(stripped[c]) for c in TIMESTAMP_COLUMNS[source]):
        kinds.append("timestamp_format")
    return kinds


@dataclass
class FileFacts:
    key: str
    broken: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    header_variation: bool = False
    copy_of: str | None = None
    rows: int = 0


@dataclass
class Audit:
    files: dict[str, FileFacts] = field(default_factory=dict)
    row_kinds: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    valid: dict[str, list[dict]] = field(default_factory=lambda: {s: [] for s in COLUMNS})

    def mark(self, kind: str, key: str, row: int) -> None:
        self.row_kinds.setdefault(kind, set()).add((key, row))

    def latest(self, source: str) -> pd.DataFrame:
        """Valid rows, one per key: latest updated_at, ties broken by the later upload and row."""
        df = pd.DataFrame(self.valid[source])
        df = df.sort_values(["_updated", "_upload", "_row"])
        return df.drop_duplicates(KEY_COLUMN[source], keep="last").reset_index(drop=True)


def _classify_rows(audit: Audit, key: str, header: list[str], rows: list[list[str]], upload: int,
                   seen: set[tuple], transactions: list[dict]) -> set[tuple]:  # fmt: skip
    """Name each row's kind; valid reference rows go to `audit.valid`, valid transactions to `transactions`."""
    source = source_of(key)
    names = [h.strip().lower() for h in header]
    in_file: set[tuple] = set()
    for i, values in enumerate(rows, start=1):
        raw = {c: values[names.index(c)] for c in COLUMNS[source]}
        fingerprint = tuple(raw.values())
        if fingerprint in in_file or fingerprint in seen:
            audit.mark("duplicate_in_file" if fingerprint in in_file else "duplicate_across_files", key, i)
            continue
        in_file.add(fingerprint)
        cleaned = {c: clean(v) for c, v in raw.items()}
        reason = _reject_transaction(cleaned, key) if source == "transactions" else _reject_reference(source, cleaned)
        if reason:
            audit.mark(reason, key, i)
            continue
        kinds = cosmetic_kinds(source, raw)
        for kind in kinds:
            audit.mark(kind, key, i)
        record = dict(cleaned, _key=key, _row=i, _upload=upload, _updated=parse_ts(cleaned["updated_at"]),
                      _cosmetic=kinds)  # fmt: skip
        (transactions if source == "transactions" else audit.valid[source]).append(record)
    return in_file


def _check_references(audit: Audit, transactions: list[dict]) -> None:
    """Orphans need every reference row first; a rejected row keeps its reason only, not its cosmetic kinds."""
    clients = {r["client_id"] for r in audit.valid["clients"]}
    assets = {r["asset_id"] for r in audit.valid["assets"]}
    for r in transactions:
        asset = r["asset_id"]
        missing_asset = asset is None and r["transaction_type"].lower() != "fee"
        if r["client_id"] not in clients or missing_asset or (asset is not None and asset not in assets):
            audit.mark("orphan_reference", r["_key"], r["_row"])
            for kind in r["_cosmetic"]:
                audit.row_kinds[kind].discard((r["_key"], r["_row"]))
        else:
            audit.valid["transactions"].append(r)


def audit_directory(root: Path, upload_order: list[str]) -> Audit:
    """Audit every file under `root`; `upload_order` lists keys in first-upload order (repeats are ignored)."""
    root, audit, seen_md5 = Path(root), Audit(), {}
    seen_rows: dict[str, set[tuple]] = {s: set() for s in COLUMNS}
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    order = [k for k in dict.fromkeys(upload_order) if k in on_disk]
    transactions: list[dict] = []
    for upload, key in enumerate(order + [k for k in on_disk if k not in order]):
        data = (root / key).read_bytes()
        facts = audit.files[key] = FileFacts(key)
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if digest in seen_md5:
            facts.copy_of = seen_md5[digest]
            continue
        seen_md5[digest] = key
        try:
            header, rows = read_rows(key, data)
        except BrokenFile as exc:
            facts.broken = str(exc)
            continue
        source = source_of(key)
        contract = [h for h in header if h.strip().lower() in COLUMNS[source]]
        facts.extra_columns = [h for h in header if h.strip().lower() not in COLUMNS[source]]
        facts.header_variation = contract != list(COLUMNS[source])
        facts.rows = len(rows)
        seen_rows[source] |= _classify_rows(audit, key, header, rows, upload, seen_rows[source], transactions)
    _check_references(audit, transactions)
    return audit
