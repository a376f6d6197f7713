"""File-shape variations the loader must cope with: extra columns, reordered/recased headers, broken files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from devtools.datagen.contract import KEY_COLUMN
from devtools.datagen.delivery import Delivery, landing_key
from devtools.datagen.formatting import reference_table
from devtools.datagen.writer import broken_bytes

if TYPE_CHECKING:
    from devtools.datagen.run import DataGenRun

# kind -> (source, file name, format the key claims)
BROKEN_FILES = {
    "empty_file": ("transactions", "upload-01", "csv"),
    "header_only": ("clients", "upload-02", "csv"),
    "truncated_gzip": ("transactions", "upload-03", "csv.gz"),
    "parquet_is_csv": ("assets", "upload-04", "parquet"),
    "missing_key_column": ("transactions", "upload-05", "csv"),
    "invalid_utf8": ("clients", "upload-06", "csv"),
}


def add_extra_column(table: pa.Table, name: str, values: tuple[str, ...], rng: np.random.Generator) -> pa.Table:
    """A column the contract does not name (mixed case, so the raw layer's lower-casing is exercised)."""
    column = pa.array(list(values), pa.string()).take(pa.array(rng.integers(len(values), size=table.num_rows)))
    return table.append_column(name, column)


def vary_header(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Same data, columns in another order and header names in upper or Title case."""
    order = rng.permutation(table.num_columns)
    style = str.upper if rng.random() < 0.5 else str.title
    return pa.table([table.column(int(i)) for i in order], names=[style(table.column_names[int(i)]) for i in order])


def _content(run: DataGenRun, source: str, day: int) -> pa.Table:
    """Plausible rows for a broken file; loading them by mistake would change nothing (copies or fresh keys)."""
    if source == "transactions":
        return run._first_tables[day].slice(0, 200)
    rows = run.world.plan.deliveries[(source, 0)].head(20).copy()
    if source == "clients":
        # Fresh ids and non-ASCII names: the latin-1 re-encoding must really break UTF-8.
        rows["client_id"] = [run.fresh.client() for _ in range(len(rows))]
        rows["last_name"] = "Müller"
    return reference_table(rows, source)


def broken_deliveries(run: DataGenRun, day: int) -> Iterator[Delivery]:
    dt = run.cfg.day_date(day)
    for kind, (source, name, fmt) in BROKEN_FILES.items():
        data = broken_bytes(kind, _content(run, source, day), KEY_COLUMN[source])
        yield Delivery(key=landing_key(source, dt, name, fmt), data=data, source=source, dt=dt, delivered_on=dt,
                       fmt=fmt, broken=kind)  # fmt: skip

