"""File-shape variations the loader must cope with: extra columns, reordered/recased headers, broken files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pyarrow as pa

from devtools.datagen.contract import KEY_COLUMN
from devtools.datagen.delivery import Delivery, landing_key
from devtools.datagen.formatting import reference_table
from devtools.datagen.rejects import FreshIds
from devtools.datagen.writer import broken_bytes

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


def _content(source: str, transactions: pa.Table, reference: dict, fresh: FreshIds) -> pa.Table:
    """Plausible rows for a broken file; loading them by mistake would change nothing (copies or fresh keys)."""
    if source == "transactions":
        return transactions.slice(0, 200)
    rows = reference[(source, 0)].head(20).copy()
    if source == "clients":
        # Fresh ids and non-ASCII names: the latin-1 re-encoding must really break UTF-8.
        rows["client_id"] = [fresh.client() for _ in range(len(rows))]
        rows["last_name"] = "Müller"
    return reference_table(rows, source)


def broken_deliveries(dt: date, transactions: pa.Table, reference: dict, fresh: FreshIds) -> Iterator[Delivery]:
    """The broken files of day `dt`, made from the day's first transactions file and the first reference
    deliveries (`reference`: (source, day) -> rows), with client ids from `fresh`."""
    for kind, (source, name, fmt) in BROKEN_FILES.items():
        data = broken_bytes(kind, _content(source, transactions, reference, fresh), KEY_COLUMN[source])
        yield Delivery(key=landing_key(source, dt, name, fmt), data=data, source=source, dt=dt, delivered_on=dt,
                       fmt=fmt, broken=kind)  # fmt: skip

