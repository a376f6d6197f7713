"""Turn one landing file's bytes into an Arrow table of text columns, or say exactly why it cannot be read."""

from __future__ import annotations

import csv
import gzip
import io
import zlib

import pyarrow as pa

from include.ingestion.contract import COLUMNS, KEY_COLUMN


class FileRejected(ValueError):
    """The file as a whole cannot be loaded: a reason code (docs/landing-contract.md) and a human detail."""

    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}")


def read_landing_file(data: bytes, fmt: str, source: str) -> pa.Table:
    """All columns as strings, header names lower-cased and trimmed, values exactly as delivered."""
    if not data:
        raise FileRejected("empty_file", "empty file (0 bytes)")
    if fmt == "parquet":
        table = _read_parquet(data)
    else:
        if fmt == "csv.gz":
            data = _gunzip(data)
        table = _read_csv(data)
    key = KEY_COLUMN[source]
    if not set(table.column_names) & set(COLUMNS[source]):
        raise FileRejected("no_header", f"first row names no contract column ({', '.join(table.column_names[:5])})")
    if key not in table.column_names:
        columns = ", ".join(table.column_names)
        raise FileRejected("missing_key_column", f"missing key column {key!r} (columns: {columns})")
    if table.num_rows == 0:
        raise FileRejected("header_only", "no data rows (header only)")
    return table


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except EOFError:
        raise FileRejected("not_declared_format", "truncated gzip stream") from None
    except (OSError, zlib.error) as exc:
        raise FileRejected("not_declared_format", f"not a valid gzip file ({exc})") from None


def _normalise_header(names: list[str]) -> list[str]:
    cleaned = [n.strip().lower() for n in names]
    if cleaned and cleaned[0].startswith("\ufeff"):
        cleaned[0] = cleaned[0].lstrip("\ufeff")
    if any(not n for n in cleaned):
        raise FileRejected("bad_header", f"blank column name in header at position {cleaned.index('') + 1}")
    duplicates = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if duplicates:
        raise FileRejected("bad_header", f"duplicate column(s) in header: {', '.join(duplicates)}")
    return cleaned


def _read_csv(data: bytes) -> pa.Table:
    import pyarrow.csv as pacsv

    if data.startswith(b"PAR1"):
        raise FileRejected("not_declared_format", "declared CSV but the content is Parquet")
    first_line = data.split(b"\n", 1)[0]
    try:
        header_text = first_line.decode("utf-8")
    except UnicodeDecodeError:
        raise FileRejected("bad_encoding", "header is not valid UTF-8") from None
    header = next(csv.reader([header_text.rstrip("\r")]), [])
    if not header or all(not h.strip() for h in header):
        raise FileRejected("no_header", "no header row")
    names = _normalise_header(header)
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            # Keep every value as delivered: no type inference, no null tokens, no trimming.
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        if "UTF8" in message or "utf8" in message.lower():
            raise FileRejected("bad_encoding", "not valid UTF-8 text") from None
        raise FileRejected("malformed_csv", f"malformed CSV: {message}") from None
    return table


def _read_parquet(data: bytes) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileRejected("not_declared_format", f"not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    names = _normalise_header(table.column_names)
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns.append(column.cast(pa.string()))
        else:
            try:
                columns.append(column.cast(pa.string()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise FileRejected("not_declared_format", f"column type {column.type} cannot be read as text") from None
    return pa.table(columns, names=names)
