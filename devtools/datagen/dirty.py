"""Dirt a real delivery carries, applied to one file's table of strings, with a record of what went where.

Each soiled row gets exactly one kind, so the audit can name it unambiguously:
- cell kinds change spelling only, the cleaned value stays the same;
- duplicates repeat a clean row byte for byte (later in the same file, or in a later file);
- rejects (see `rejects`) are extra rows under fresh keys that break one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from devtools.datagen import rejects
from devtools.datagen.contract import CODE_COLUMNS, ENUM_COLUMNS, NULL_TOKEN_SPELLINGS, TIMESTAMP_COLUMNS

CELL_KINDS = ("whitespace", "mixed_case_enum", "lowercase_code", "null_token", "boolean_spelling", "timestamp_format")
DUPLICATE_KINDS = ("duplicate_in_file", "duplicate_across_files")
ROW_KINDS = CELL_KINDS + DUPLICATE_KINDS + rejects.REJECT_KINDS
KINDS_BY_SOURCE = {
    "transactions": tuple(k for k in ROW_KINDS if k != "boolean_spelling"),
    "clients": tuple(k for k in CELL_KINDS if k != "boolean_spelling") + ("duplicate_in_file",)
    + rejects.REJECTS_BY_SOURCE["clients"],
    "assets": CELL_KINDS + ("duplicate_in_file",) + rejects.REJECTS_BY_SOURCE["assets"],
}  # fmt: skip
# Columns whose null a null token may spell, and columns that may carry stray spaces.
NULLABLE = {"transactions": ("fee", "quantity", "price", "asset_id"), "clients": ("date_of_birth",),
            "assets": ("sector", "exchange", "isin")}  # fmt: skip
PADDABLE = {
    "transactions": ("client_id", "asset_id", "transaction_type", "quantity", "amount", "currency", "status"),
    "clients": ("client_id", "first_name", "last_name", "email", "segment", "country_code"),
    "assets": ("asset_id", "symbol", "asset_name", "asset_class", "currency", "risk_rating"),
}
# Non-canonical boolean spellings (tests/unit/test_contract.py checks the contract accepts each).
TRUE_VARIANTS = ("yes", "y", "1", "True", "TRUE", "Yes", "Y")
FALSE_VARIANTS = ("no", "n", "0", "False", "FALSE", "No", "N")


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _mixed_case(rng: np.random.Generator, value: str) -> str:
    style = int(rng.integers(3))
    if style == 0:
        return value.title()
    if style == 1:
        return value.upper()
    flipped = "".join(ch.upper() if i % 2 == 0 else ch for i, ch in enumerate(value))
    return flipped if flipped != value else value.upper()


def _retimestamp(rng: np.random.Generator, value: str) -> str:
    """The same instant spelled another ISO 8601 way: space separator, naive (= UTC), fraction, or an offset."""
    ts = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    style = int(rng.integers(5))
    if style == 0:
        return ts.strftime("%Y-%m-%d %H:%M:%S")
    if style == 1:
        return ts.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 2:
        return ts.strftime("%Y-%m-%d %H:%M:%S.000Z")
    hours = _pick(rng, (1, 2, -5, 5, 9))
    local = ts.astimezone(timezone(timedelta(hours=hours)))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"


def soil_cell(kind: str, source: str, row: dict, rng: np.random.Generator) -> dict:
    """A copy of `row` with one cell respelled; the cleaned value is unchanged."""
    out = dict(row)
    if kind == "whitespace":
        for col in rng.permutation([c for c in PADDABLE[source] if row.get(c)])[: int(rng.integers(1, 3))]:
            out[col] = " " * int(rng.integers(0, 3)) + row[col] + " " * int(rng.integers(1, 3))
    elif kind == "mixed_case_enum":
        col = _pick(rng, ENUM_COLUMNS[source])
        out[col] = _mixed_case(rng, row[col])
    elif kind == "lowercase_code":
        col = CODE_COLUMNS[source][0]
        out[col] = row[col].lower()
    elif kind == "null_token":
        col = _pick(rng, [c for c in NULLABLE[source] if row.get(c) is None])
        out[col] = _pick(rng, NULL_TOKEN_SPELLINGS)
    elif kind == "boolean_spelling":
        out["is_active"] = _pick(rng, TRUE_VARIANTS if row["is_active"] == "true" else FALSE_VARIANTS)
    elif kind == "timestamp_format":
        col = _pick(rng, TIMESTAMP_COLUMNS[source])
        out[col] = _retimestamp(rng, row[col])
    else:
        raise ValueError(kind)
    return out


def _eligible_for(kind: str, source: str, table: pa.Table) -> np.ndarray:
    """Rows a kind can apply to (null tokens need a cell that is really empty)."""
    if kind != "null_token":
        return np.ones(table.num_rows, dtype=bool)
    mask = np.zeros(table.num_rows, dtype=bool)
    for col in NULLABLE[source]:
        mask |= table.column(col).is_null().to_numpy(zero_copy_only=False)
    return mask


@dataclass
class Soiled:
    """A file's final table and, per data row (0-based), the code of its dirty kind (see `kind_code`; 0 = clean)."""

    table: pa.Table
    tags: np.ndarray
    clean_rows: list[dict] = field(default_factory=list)  # a few untouched rows, for later cross-file repeats


@dataclass
class FileDirt:
    """Which kinds, how many of each, and the helpers reject rows need."""

    counts: dict[str, int]
    cross_file_rows: list[dict] = field(default_factory=list)
    new_id: Callable[[], str] | None = None
    fresh: rejects.FreshIds | None = None
    keep_clean: int = 0


def kind_code(kind: str) -> int:
    return ROW_KINDS.index(kind) + 1


def _replace_rows(table: pa.Table, changed: dict[int, dict]) -> pa.Table:
    if not changed:
        return table
    idx = np.array(sorted(changed), dtype=np.int64)
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[idx] = True
    columns = []
    for name in table.column_names:
        values = pa.array([changed[i][name] for i in idx], pa.string())
        columns.append(pc.replace_with_mask(table.column(name).combine_chunks(), pa.array(mask), values))
    return pa.table(columns, names=table.column_names)


def _reject_template_ok(source: str, rows: pa.Table) -> np.ndarray:
    if source != "transactions":
        return np.ones(rows.num_rows, dtype=bool)
    kind = rows.column("transaction_type").to_numpy(zero_copy_only=False)
    return (kind == "buy") | (kind == "sell")


def soil(table: pa.Table, source: str, eligible: np.ndarray, dirt: FileDirt, rng: np.random.Generator) -> Soiled:
    """Apply `dirt.counts` to `table`; only `eligible` rows (not injected anomalies) are touched or copied."""
    n = table.num_rows
    free = eligible.copy()
    changed: dict[int, dict] = {}
    tags = np.zeros(n, dtype=np.int8)
    for kind in CELL_KINDS:
        k = dirt.counts.get(kind, 0)
        pool = np.flatnonzero(free & _eligible_for(kind, source, table))
        for i in rng.choice(pool, size=min(k, len(pool)), replace=False) if k else ():
            changed[int(i)] = soil_cell(kind, source, table.slice(int(i), 1).to_pylist()[0], rng)
            tags[i] = kind_code(kind)
            free[i] = False

    extras: list[tuple[dict, str, int]] = []  # (row, kind, index it must follow or -1)
    k = dirt.counts.get("duplicate_in_file", 0)
    pool = np.flatnonzero(free)
    for i in rng.choice(pool, size=min(k, len(pool)), replace=False) if k else ():
        extras.append((table.slice(int(i), 1).to_pylist()[0], "duplicate_in_file", int(i)))
        free[i] = False
    for row in dirt.cross_file_rows[: dirt.counts.get("duplicate_across_files", 0)]:
        extras.append((row, "duplicate_across_files", -1))

    templates = np.flatnonzero(free & _reject_template_ok(source, table))
    for kind in rejects.REJECTS_BY_SOURCE[source]:
        for _ in range(dirt.counts.get(kind, 0) if len(templates) else 0):
            row = table.slice(int(rng.choice(templates)), 1).to_pylist()[0]
            if source == "transactions":
                bad = rejects.transaction_reject(kind, row, rng, dirt.new_id, dirt.fresh)
            else:
                bad = rejects.reference_reject(kind, source, row, rng, dirt.fresh)
            extras.append((bad, kind, -1))

    table = _replace_rows(table, changed)
    clean_pool = np.flatnonzero(free)
    keep = rng.choice(clean_pool, size=min(dirt.keep_clean, len(clean_pool)), replace=False)
    clean_rows = table.take(pa.array(np.sort(keep).astype(np.int64))).to_pylist() if len(keep) else []
    if not extras:
        return Soiled(table, tags, clean_rows)

    # Insert extras at random places; a duplicate always lands after the row it repeats.
    after = np.array([rng.integers(anchor + 1, n + 1) if anchor >= 0 else rng.integers(0, n + 1)
                      for _, _, anchor in extras], dtype=np.int64)  # fmt: skip
    order = np.argsort(after, kind="stable")
    positions = after[order]
    take = np.insert(np.arange(n, dtype=np.int64), positions, n + order)
    extra_table = pa.Table.from_pylist([row for row, _, _ in extras], schema=table.schema)
    combined = pa.concat_tables([table, extra_table]).take(pa.array(take))
    all_tags = np.concatenate([tags, np.array([kind_code(kind) for _, kind, _ in extras], dtype=np.int8)])[take]
    return Soiled(combined, all_tags, clean_rows)

