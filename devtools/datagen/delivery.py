"""One upload to the landing zone: its key, bytes and what the generator put in it; and the key naming scheme."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa

EXTENSIONS = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet"}


def landing_key(source: str, dt: date, name: str, fmt: str) -> str:
    """`<source>/dt=YYYY-MM-DD/<source>_YYYYMMDD_<name>.<ext>`, the layout the contract fixes."""
    return f"{source}/dt={dt:%Y-%m-%d}/{source}_{dt:%Y%m%d}_{name}.{EXTENSIONS[fmt]}"


@dataclass
class Delivery:
    """A file as uploaded. `event` is "new" for a first upload and "redelivery" for identical bytes again."""

    key: str
    data: bytes
    source: str
    dt: date
    delivered_on: date
    fmt: str
    table: pa.Table | None = None  # the rows as strings (None for broken files)
    row_tags: np.ndarray | None = None  # per data row: dirty kind code (dirty.kind_code), 0 when clean
    file_kinds: list[str] = field(default_factory=list)
    broken: str | None = None
    event: str = "new"
    copy_of: str | None = None

    @property
    def rows(self) -> int:
        return 0 if self.table is None else self.table.num_rows

    @cached_property
    def md5(self) -> str:
        """What S3 reports as the ETag for a single-part upload."""
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()
