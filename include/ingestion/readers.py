"""Stream one local landing file as batches of text columns, in bounded memory, or say exactly why it cannot be read.

Any exception while reading is the file's fault: it surfaces as FileRejected with a reason code from
contract.FILE_REASONS and a detail that names columns, row numbers and sizes, never a cell value.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from include.ingestion.contract import COLUMNS, KEY_COLUMN, Rejected

HEADER_LIMIT = 1 << 20  # a header row is a few KiB; a first "line" this long is not a header
_NAME = re.compile(r"^[a-z0-9_]+$")


class FileRejected(Rejected):
    """The file as a whole cannot be loaded: a reason code (contract.FILE_REASONS) and a detail without cell values."""


@dataclass(frozen=True)
class ReadLimits:
    max_inflated_bytes: int = 4 << 30
    max_rows: int = 50_000_000
    max_extra_columns: int = 20
    max_column_name_length: int = 64
    # CSV block size and Parquet batch target. pyarrow's streaming CSV reader reads up to 32 blocks ahead, so this
    # bounds the CSV read-ahead at 32 x batch_bytes (128 MiB by default; 16 MiB blocks peaked at 820 MiB RSS).
    batch_bytes: int = 4 << 20

    @classmethod
    def from_settings(cls, ingest) -> ReadLimits:
        """The limits of `Settings.ingest` (LAKEHOUSE_MAX_FILE_BYTES, LAKEHOUSE_MAX_FILE_ROWS)."""
        return cls(max_inflated_bytes=ingest.max_file_bytes, max_rows=ingest.max_file_rows)


class LandingFile:
    """An open landing file whose header has been checked. Use as a context manager; read it with batches()."""

    def __init__(self, columns: list[str], source: str, batches: Callable[[], Iterator[pa.RecordBatch]],
                 classify: Callable[[Exception, int], FileRejected], closers: list[Callable[[], object]]):
        self.columns = columns
        self.extra_columns = [c for c in columns if c not in COLUMNS[source]]
        self._batches, self._classify, self._closers = batches, classify, closers
        self._started = False

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every column pa.string(), values as delivered; raises FileRejected at any point, header_only at the end.

        A file is read once: a second call would see an exhausted stream and report it as header-only.
        """
        if self._started:
            raise RuntimeError("batches() can be called only once per open landing file")
        self._started = True
        rows = 0
        try:
            for batch in self._batches():
                rows += batch.num_rows
                if batch.num_rows:
                    yield batch
        except Exception as exc:  # noqa: BLE001 - anything the file makes the reader do is the file's fault
            raise _as_rejected(exc, self._classify, rows) from None
        if rows == 0:
            raise FileRejected("header_only", "no data rows (header only)")

    def close(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):  # local handles only; a close error must not hide the real outcome
                close()

    def __enter__(self) -> LandingFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_landing_file(path: Path, fmt: str, source: str, limits: ReadLimits | None = None) -> LandingFile:
    """Open a local landing file of format `fmt` (csv, csv.gz, parquet) and check its header against `source`."""
    limits = limits or ReadLimits()
    path = Path(path)
    if path.stat().st_size == 0:
        raise FileRejected("empty_file", "empty file (0 bytes)")
    if fmt not in ("csv", "csv.gz", "parquet"):
        raise ValueError(f"unknown format {fmt!r}")  # a caller's bug, not the file's
    classify = _classify_parquet if fmt == "parquet" else _classify_csv
    try:
        if fmt == "parquet":
            return _open_parquet(path, source, limits)
        return _open_csv(path, fmt, source, limits)
    except Exception as exc:  # noqa: BLE001 - see batches()
        raise _as_rejected(exc, classify, 0) from None


# --- header rules ---------------------------------------------------------------------------------------------


def check_header(raw_names: list[str], source: str, limits: ReadLimits) -> list[str]:
    """Lower-cased, trimmed names that are safe identifiers, or FileRejected naming the column by position."""
    names = [n.strip().lower() for n in raw_names]
    if names:
        names[0] = names[0].lstrip("\ufeff").strip()
    if not set(names) & set(COLUMNS[source]):
        raise FileRejected("no_header", f"first row names no {source} contract column")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        problem = _name_problem(name, limits.max_column_name_length)
        if problem:
            raise FileRejected("bad_header", f"column {position} name {problem}")
        if name in seen:
            raise FileRejected("bad_header", f"column {position} name repeats column {seen[name]}")
        seen[name] = position
    extras = [n for n in names if n not in COLUMNS[source]]
    if len(extras) > limits.max_extra_columns:
        raise FileRejected("bad_header", f"{len(extras)} columns the contract does not name; at most "
                                         f"{limits.max_extra_columns} are accepted")
    if KEY_COLUMN[source] not in names:
        raise FileRejected("missing_key_column", f"missing key column {KEY_COLUMN[source]!r}")
    return names


def _name_problem(name: str, max_length: int) -> str | None:
    if not name:
        return "is blank"
    if len(name) > max_length:
        return f"is longer than {max_length} characters"
    if name.startswith("_"):
        return "starts with '_' (reserved for load metadata)"
    if name.startswith("$"):
        return "starts with '$' (reserved for Trino's hidden columns)"
    if not _NAME.match(name):
        return "has characters outside [a-z0-9_]"
    return None


# --- CSV and gzip CSV ------------------------------------------------------------------------------------------


class _CsvStream(io.RawIOBase):
    """The file's CSV bytes, inflated on demand for gzip and counted: past the cap it stops with too_large.

    It also counts quote characters: in RFC 4180 CSV they come in pairs, and pyarrow silently takes an unclosed quote
    at the end of the file as one value holding every row after it.
    """

    def __init__(self, path: Path, fmt: str, cap: int, check_quotes: bool = False):
        self._raw, self._gzip = _open_raw(path, fmt), fmt == "csv.gz"
        self._cap, self._check_quotes = cap, check_quotes
        self.inflated = self._quotes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._cap + 1 - self.inflated  # never inflate everything at once
        try:
            data = self._raw.read(max(size, 0))
        except OSError as exc:  # arrow reports every gzip error as OSError
            if self._gzip and "runcated" in str(exc):
                raise FileRejected("not_declared_format", "truncated gzip stream") from None
            if self._gzip:
                raise FileRejected("not_declared_format", "not a valid gzip stream") from None
            raise
        self.inflated += len(data)
        if self.inflated > self._cap:
            raise FileRejected("too_large", f"more than {self._cap} bytes of CSV")
        if self._check_quotes:
            self._quotes += data.count(b'"')
            if size and not data and self._quotes % 2:
                raise FileRejected("malformed_csv", "malformed CSV: a quote is not closed by the end of the file "
                                                    "(or a quote stands inside an unquoted value)")
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_raw(path: Path, fmt: str):
    """The file's bytes; gzip is inflated by arrow's C++ zlib (about 1.4x Python's gzip module), on demand."""
    if fmt == "csv.gz":
        return pa.CompressedInputStream(pa.OSFile(str(path)), "gzip")  # closing it closes the file too
    return open(path, "rb")  # noqa: SIM115 - closed by _CsvStream.close()


def _first_line(stream: _CsvStream) -> tuple[bytes, bool]:
    """The bytes before the first CR or LF (CR-only line ends are as good as LF or CRLF), and whether one was found."""
    buffer = b""
    while len(buffer) <= HEADER_LIMIT:
        chunk = stream.read(64 << 10)
        if not chunk:
            return buffer, False
        buffer += chunk
        end = re.search(rb"[\r\n]", buffer)
        if end and end.start() <= HEADER_LIMIT:
            return buffer[: end.start()], True
    raise FileRejected("bad_header", f"no line end in the first {HEADER_LIMIT} bytes")


def _csv_header(path: Path, fmt: str, limits: ReadLimits) -> tuple[list[str], bool]:
    with _CsvStream(path, fmt, limits.max_inflated_bytes) as stream:
        line, ended = _first_line(stream)
        if not line and stream.inflated == 0:
            raise FileRejected("empty_file", "gzip inflates to 0 bytes")
    if line.startswith(b"PAR1"):
        raise FileRejected("not_declared_format", "declared CSV but the content is Parquet")
    if line.startswith(b"\x1f\x8b"):
        raise FileRejected("not_declared_format", "declared CSV but the content is gzip")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise FileRejected("bad_encoding", "header row is not valid UTF-8") from None
    try:
        header = next(csv.reader([text], strict=True), [])
    except csv.Error:
        raise FileRejected("bad_header", "header row cannot be parsed (broken quoting)") from None
    if not any(h.strip() for h in header):
        raise FileRejected("no_header", "first row is blank")
    return header, ended


def _open_csv(path: Path, fmt: str, source: str, limits: ReadLimits) -> LandingFile:
    import pyarrow.csv as pacsv

    if fmt == "csv" and path.stat().st_size > limits.max_inflated_bytes:
        raise FileRejected("too_large", f"{path.stat().st_size} bytes, more than {limits.max_inflated_bytes}")
    header, ended = _csv_header(path, fmt, limits)
    names = check_header(header, source, limits)
    if not ended:
        raise FileRejected("header_only", "no data rows (header only)")
    stream = _CsvStream(path, fmt, limits.max_inflated_bytes, check_quotes=True)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=limits.batch_bytes),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            # Keep every value as delivered: no type inference, no null tokens, no trimming.
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except BaseException:
        stream.close()
        raise
    return LandingFile(names, source, lambda: _capped_rows(reader, limits.max_rows), _classify_csv,
                       [stream.close, reader.close])


def _capped_rows(batches, max_rows: int) -> Iterator[pa.RecordBatch]:
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        if rows > max_rows:
            raise FileRejected("too_large", f"more than {max_rows} rows")
        yield batch


_FIELD_COUNT = re.compile(r"Expected (\d+) columns, got (\d+)")


def _classify_csv(exc: Exception, rows_before: int) -> FileRejected:
    message = str(exc)
    where = f"after data row {rows_before}" if rows_before else "in the first block of data rows"
    counts = _FIELD_COUNT.search(message)
    if counts:
        return FileRejected("malformed_csv", f"malformed CSV: a row {where} has {counts[2]} fields, the header "
                                             f"{counts[1]} (or a quote is not closed)")
    if "UTF8" in message or "utf-8" in message.lower():
        return FileRejected("bad_encoding", f"not valid UTF-8 text ({where})")
    if "straddl" in message or "block size" in message:
        return FileRejected("malformed_csv", f"malformed CSV: a row {where} is longer than the reader's block "
                                             "(or a quote is not closed)")
    return FileRejected("unreadable", f"CSV could not be read ({type(exc).__name__} {where})")


# --- Parquet ---------------------------------------------------------------------------------------------------


def _open_parquet(path: Path, source: str, limits: ReadLimits) -> LandingFile:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except Exception:  # noqa: BLE001 - any failure to parse the footer means it is not Parquet
        raise FileRejected("not_declared_format", "not a readable Parquet file") from None
    try:
        meta, schema = parquet.metadata, parquet.schema_arrow
        names = check_header(schema.names, source, limits)
        _check_parquet_types(schema)
        inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if inflated > limits.max_inflated_bytes:
            raise FileRejected("too_large", f"{inflated} uncompressed bytes, more than {limits.max_inflated_bytes}")
        if meta.num_rows > limits.max_rows:
            raise FileRejected("too_large", f"{meta.num_rows} rows, more than {limits.max_rows}")
        rows_per_batch = min(max(limits.batch_bytes * max(meta.num_rows, 1) // max(inflated, 1), 1024), 1 << 20)
    except BaseException:
        parquet.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in _capped_rows(parquet.iter_batches(batch_size=rows_per_batch, use_threads=False),
                                  limits.max_rows):
            yield pa.RecordBatch.from_arrays([_as_text(column, i) for i, column in enumerate(batch.columns, 1)],
                                             names=names)

    return LandingFile(names, source, batches, _classify_parquet, [parquet.close])


def _check_parquet_types(schema: pa.Schema) -> None:
    for position, field in enumerate(schema, 1):
        try:
            pa.nulls(0, field.type).cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise FileRejected("not_declared_format", f"column {position} has type {field.type} that cannot be "
                                                      "read as text (not one flat table)") from None


def _as_text(column: pa.Array, position: int) -> pa.Array:
    try:
        text = column if column.type == pa.string() else column.cast(pa.string())
        text.validate(full=True)  # Parquet string pages are not checked for UTF-8 on read
    except pa.ArrowInvalid:
        raise FileRejected("bad_encoding", f"column {position} has values that are not valid UTF-8 text") from None
    return text


def _classify_parquet(exc: Exception, rows_before: int) -> FileRejected:
    return FileRejected("unreadable", f"Parquet data could not be decoded ({type(exc).__name__} after data row "
                                      f"{rows_before})")


def _as_rejected(exc: Exception, classify, rows_before: int) -> FileRejected:
    if isinstance(exc, FileRejected):
        return exc
    return classify(exc, rows_before)
