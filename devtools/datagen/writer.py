"""Tables to file bytes (CSV, gzip CSV, Parquet, and deliberately broken files) and bytes to a sink (S3 or a dir).

The CSV writer is vectorised and quotes only fields that need it (RFC 4180), unlike pyarrow's writer which
quotes every string; gzip gets mtime=0 so the same rows always give the same bytes (and the same ETag).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FORMATS = ("csv", "csv.gz", "parquet")
BROKEN_KINDS = ("empty_file", "header_only", "truncated_gzip", "parquet_is_csv", "missing_key_column", "invalid_utf8")
MULTIPART_THRESHOLD = 64 * 1024 * 1024


def _csv_field(name: str) -> str:
    return f'"{name.replace(chr(34), chr(34) * 2)}"' if any(ch in name for ch in ',"\r\n') else name


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _join_lines(columns: list[pa.Array], quote: bool) -> pa.Array:
    if quote:
        columns = [
            pc.if_else(
                pc.match_substring_regex(c, '[",\r\n]'),
                pc.binary_join_element_wise(_lit('"'), pc.replace_substring(c, '"', '""'), _lit('"'), _lit("")),
                c,
            )
            for c in columns
        ]
    return pc.binary_join_element_wise(*columns, _lit(","))


def csv_bytes(table: pa.Table) -> bytes:
    """Header line plus one line per row, LF line ends, minimal quoting, nulls as empty fields.

    Lines are first joined unquoted; only the (rare) lines whose comma count or content shows a field needing
    quotes are rebuilt with per-field quoting, which keeps the common path to a few scans per line.
    """
    header = (",".join(_csv_field(n) for n in table.column_names) + "\n").encode()
    if table.num_rows == 0:
        return header
    columns = [pc.fill_null(c.combine_chunks().cast(pa.large_string()), _lit("")) for c in table.columns]
    lines = _join_lines(columns, quote=False)
    special = pc.or_(
        pc.not_equal(pc.count_substring(lines, ","), table.num_columns - 1),
        pc.match_substring_regex(lines, '["\r\n]'),
    )
    rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
    if len(rows):
        idx = pa.array(rows)
        fixed = _join_lines([c.take(idx) for c in columns], quote=True)
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows] = True
        lines = pc.replace_with_mask(lines, pa.array(mask), fixed)
    lines = pc.binary_join_element_wise(lines, _lit("\n"), _lit(""))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    body = lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
    return header + body


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)  # level 1: 3x faster, files ~15% larger


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue()


def serialize(table: pa.Table, fmt: str) -> bytes:
    if fmt == "csv":
        return csv_bytes(table)
    if fmt == "csv.gz":
        return gzip_bytes(csv_bytes(table))
    if fmt == "parquet":
        return parquet_bytes(table)
    raise ValueError(f"unknown format {fmt!r}")


def broken_bytes(kind: str, table: pa.Table, key_column: str) -> bytes:
    """Bytes of a file the loader must quarantine; `table` supplies plausible content."""
    if kind == "empty_file":
        return b""
    if kind == "header_only":
        return csv_bytes(table.slice(0, 0))
    if kind == "truncated_gzip":
        whole = gzip_bytes(csv_bytes(table))
        return whole[: len(whole) // 2]
    if kind == "parquet_is_csv":
        return csv_bytes(table)
    if kind == "missing_key_column":
        return csv_bytes(table.drop_columns([key_column]))
    if kind == "invalid_utf8":
        return csv_bytes(table).decode("utf-8").encode("latin-1", errors="replace")
    raise ValueError(kind)


class DirSink:
    """Writes keys as paths under a local directory (a stand-in for the landing bucket)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def describe(self) -> str:
        return str(self.root)


class S3Sink:
    """Uploads to the landing bucket; large bodies go multipart (deterministic part size => stable ETag)."""

    def __init__(self, client, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def put(self, key: str, data: bytes) -> None:
        if len(data) < MULTIPART_THRESHOLD:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
            return
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        self.client.upload_fileobj(io.BytesIO(data), self.bucket, key, Config=config)

    def describe(self) -> str:
        return f"s3://{self.bucket}"
