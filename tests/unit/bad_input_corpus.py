"""Landing files and keys that real source systems send, each with the reason code it must be turned away with.

Every file carries SECRET in a cell (or PRIVATE_NAME as a column name) so a test can prove that no reason
detail repeats a raw value. GOOD_FILES hold files of the same shapes that must still read.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

SECRET = "jane.doe+SECRET@example.com"
PRIVATE_NAME = "jane.doe@example.com"  # a "column name" that is really a cell value
SOURCE = "transactions"
HEADER = "transaction_id,client_id,amount,currency"
ROW = f"T1,C1,10.5,{SECRET}"


def csv_bytes(*lines: str, end: str = "\n") -> bytes:
    return "".join(line + end for line in lines).encode()


def parquet_bytes(table: pa.Table, **options) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def _good_table() -> pa.Table:
    return pa.table({"transaction_id": ["T1", "T2"], "client_id": ["C1", "C2"], "amount": ["10.5", "7"],
                     "currency": [SECRET, "EUR"]})


def _corrupt_parquet() -> bytes:
    """A valid footer over a data page whose header is garbage: only reading the rows finds out."""
    data = bytearray(parquet_bytes(_good_table(), compression="none"))
    data[4:40] = b"\xff" * 36
    return bytes(data)


def _invalid_utf8_parquet() -> bytes:
    """A string column whose bytes are not UTF-8: Parquet readers do not check, so the loader must."""
    table = pa.table({"transaction_id": ["T1"], "currency": [SECRET]})
    data = bytearray(parquet_bytes(table, compression="none", use_dictionary=False, write_statistics=False))
    at = data.index(SECRET.encode())
    data[at:at + 1] = b"\x80"
    return bytes(data)


def _gzip_bomb(inflated: int) -> bytes:
    """A valid gzip CSV of `inflated` bytes that compresses about 1000:1."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    parts = [compressor.compress(csv_bytes(HEADER))]
    chunk = csv_bytes(*[ROW] * 1000)
    for _ in range(inflated // len(chunk) + 1):
        parts.append(compressor.compress(chunk))
    return b"".join(parts) + compressor.flush()


@dataclass(frozen=True)
class BadFile:
    name: str  # landing file name; its extension is the declared format
    data: bytes
    code: str
    limits: dict = field(default_factory=dict)  # ReadLimits overrides, so limits are hit with small files

    @property
    def fmt(self) -> str:
        return "csv.gz" if self.name.endswith(".csv.gz") else self.name.rsplit(".", 1)[1]


BAD_FILES = [
    BadFile("empty.csv", b"", "empty_file"),
    BadFile("empty.csv.gz", gzip.compress(b""), "empty_file"),
    BadFile("empty.parquet", b"", "empty_file"),
    BadFile("header-only.csv", csv_bytes(HEADER, end="\r\n"), "header_only"),
    BadFile("header-only-no-line-end.csv", HEADER.encode(), "header_only"),
    BadFile("header-then-blank-lines.csv", csv_bytes(HEADER, "", ""), "header_only"),
    BadFile("header-only.parquet", parquet_bytes(_good_table().slice(0, 0)), "header_only"),
    BadFile("first-row-is-data.csv", csv_bytes(ROW, ROW), "no_header"),
    BadFile("blank-first-row.csv", csv_bytes("", HEADER, ROW), "no_header"),
    BadFile("no-contract-column.parquet", parquet_bytes(pa.table({"email": [SECRET]})), "no_header"),
    BadFile("truncated.csv.gz", gzip.compress(csv_bytes(HEADER, ROW))[:-6], "not_declared_format"),
    BadFile("plain-text.csv.gz", csv_bytes(HEADER, ROW), "not_declared_format"),
    BadFile("corrupt-deflate.csv.gz", gzip.compress(csv_bytes(HEADER, *[ROW] * 50))[:20] + b"\x00" * 40,
            "not_declared_format"),
    BadFile("csv-as.parquet", csv_bytes(HEADER, ROW), "not_declared_format"),
    BadFile("parquet-as.csv", parquet_bytes(_good_table()), "not_declared_format"),
    BadFile("gzip-as.csv", gzip.compress(csv_bytes(HEADER, ROW)), "not_declared_format"),
    BadFile("nested-column.parquet", parquet_bytes(pa.table({"transaction_id": ["T1"], "extra": [{"email": SECRET}]})),
            "not_declared_format"),
    BadFile("latin1-row.csv", f"{HEADER}\nT1,C1,1,Müller {SECRET}\n".encode("latin-1"), "bad_encoding"),
    BadFile("latin1-header.csv", f"transaction_id,montant_é\nT1,{SECRET}\n".encode("latin-1"), "bad_encoding"),
    BadFile("latin1-after-many-rows.csv", csv_bytes(HEADER, *[ROW] * 2000) + f"T9,C9,1,{SECRET} é\n".encode("latin-1"),
            "bad_encoding", {"batch_bytes": 16 << 10}),
    BadFile("binary-column.parquet",
            parquet_bytes(pa.table({"transaction_id": ["T1"], "note": [b"\xff\xfe" + SECRET.encode()]})),
            "bad_encoding"),
    BadFile("invalid-utf8-string.parquet", _invalid_utf8_parquet(), "bad_encoding"),
    BadFile("no-key-column.csv", csv_bytes("client_id,amount", f"C1,{SECRET}"), "missing_key_column"),
    BadFile("no-key-column.parquet", parquet_bytes(pa.table({"client_id": [SECRET]})), "missing_key_column"),
    BadFile("duplicate-name.csv", csv_bytes("transaction_id,Amount,amount ", f"T1,1,{SECRET}"), "bad_header"),
    BadFile("blank-name.csv", csv_bytes("transaction_id,,amount", f"T1,{SECRET},1"), "bad_header"),
    BadFile("metadata-name.csv", csv_bytes("transaction_id,_source_file", f"T1,{SECRET}"), "bad_header"),
    BadFile("metadata-name-batch.csv", csv_bytes("transaction_id,_BATCH_ID", f"T1,{SECRET}"), "bad_header"),
    BadFile("dotted-name.csv", csv_bytes("transaction_id,broker.ref", f"T1,{SECRET}"), "bad_header"),
    BadFile("trino-hidden-path.csv", csv_bytes("transaction_id,$path", f"T1,{SECRET}"), "bad_header"),
    BadFile("trino-hidden-mtime.csv", csv_bytes("transaction_id,$file_modified_time", f"T1,{SECRET}"), "bad_header"),
    BadFile("value-as-name.csv", csv_bytes(f"transaction_id,{PRIVATE_NAME}", f"T1,{SECRET}"), "bad_header"),
    BadFile("space-in-name.csv", csv_bytes("transaction_id,trade date", f"T1,{SECRET}"), "bad_header"),
    BadFile("non-ascii-name.csv", csv_bytes("transaction_id,montant_€", f"T1,{SECRET}"), "bad_header"),
    BadFile("long-name.csv", csv_bytes("transaction_id," + "x" * 65, f"T1,{SECRET}"), "bad_header"),
    BadFile("too-many-extras.csv", csv_bytes("transaction_id," + ",".join(f"x{i}" for i in range(21)),
                                             "T1," + ",".join([SECRET] * 21)), "bad_header"),
    BadFile("header-quote-not-closed.csv", csv_bytes('transaction_id,"amount', f"T1,{SECRET}"), "bad_header"),
    BadFile("no-line-end-in-first-mib.csv", b"transaction_id," + b"x" * (1 << 20) + b"\n", "bad_header"),
    BadFile("metadata-name.parquet", parquet_bytes(pa.table({"transaction_id": ["T1"], "_source_row": [SECRET]})),
            "bad_header"),
    BadFile("trino-hidden.parquet", parquet_bytes(pa.table({"transaction_id": ["T1"], "$path": [SECRET]})),
            "bad_header"),
    BadFile("short-row.csv", csv_bytes(HEADER, ROW, f"T2,{SECRET}"), "malformed_csv"),
    BadFile("long-row.csv", csv_bytes(HEADER, ROW, f"T2,C2,1,EUR,{SECRET}"), "malformed_csv"),
    BadFile("quote-not-closed.csv", csv_bytes(HEADER, f'T1,C1,1,"{SECRET}', ROW, ROW), "malformed_csv"),
    BadFile("row-longer-than-block.csv", csv_bytes(HEADER, ROW, "T2,C2,1," + SECRET * 2000),
            "malformed_csv", {"batch_bytes": 16 << 10}),
    BadFile("gzip-bomb.csv.gz", _gzip_bomb(4 << 20), "too_large", {"max_inflated_bytes": 1 << 20}),
    BadFile("too-many-rows.csv", csv_bytes(HEADER, *[ROW] * 101), "too_large", {"max_rows": 100}),
    BadFile("too-many-bytes.csv", csv_bytes(HEADER, *[ROW] * 100), "too_large", {"max_inflated_bytes": 1000}),
    BadFile("too-many-rows.parquet", parquet_bytes(pa.concat_tables([_good_table()] * 51)), "too_large",
            {"max_rows": 100}),
    BadFile("corrupt-page.parquet", _corrupt_parquet(), "unreadable"),
]

# Shapes that used to crash or that real systems send: they must read, with these rows.
GOOD_FILES = {
    "cr-only-line-ends.csv": csv_bytes(HEADER, ROW, "T2,C2,7,EUR", end="\r"),
    "crlf-line-ends.csv": csv_bytes(HEADER, ROW, "T2,C2,7,EUR", end="\r\n"),
    "bom-and-title-case.csv": ("\ufeff" + HEADER.title() + "\n" + ROW + "\nT2,C2,7,EUR\n").encode(),
    "no-final-line-end.csv": csv_bytes(HEADER, ROW) + b"T2,C2,7,EUR",
    "good.csv.gz": gzip.compress(csv_bytes(HEADER, ROW, "T2,C2,7,EUR")),
    "good.parquet": parquet_bytes(_good_table()),
}
GOOD_ROWS = [{"transaction_id": "T1", "client_id": "C1", "amount": "10.5", "currency": SECRET},
             {"transaction_id": "T2", "client_id": "C2", "amount": "7", "currency": "EUR"}]

# Keys outside the layout, with parse_key's reason code. The file behind them is never read.
BAD_KEYS = [
    ("transactions/part-1.csv", "bad_layout"),
    ("transactions/dt=2026-11-20/extra/part-1.csv", "bad_layout"),
    ("transactions/dt=2026-11-20/", "bad_layout"),
    ("transactions/dt=20261120/part-1.csv", "bad_layout"),
    ("dt=2026-11-20/part-1.csv", "bad_layout"),
    ("trades/dt=2026-11-20/part-1.csv", "unknown_source"),
    ("Transactions/dt=2026-11-20/part-1.csv", "unknown_source"),
    ("transactions/dt=2026-02-30/part-1.csv", "bad_date"),
    ("transactions/dt=2026-13-01/part-1.csv", "bad_date"),
    ("transactions/dt=0000-01-01/part-1.csv", "bad_date"),
    ("transactions/dt=2026-11-20/notes.json", "unsupported_format"),
    ("transactions/dt=2026-11-20/part-1.csv.zip", "unsupported_format"),
]
