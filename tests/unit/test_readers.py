"""Landing-file parsing rules, without S3: what is kept as delivered and what rejects a whole file."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.ingestion.contract import LayoutError, parse_key
from include.ingestion.readers import FileRejected, read_landing_file


def test_values_are_kept_exactly_as_delivered():
    data = b'Transaction_ID , Amount,Note\r\n  T1 ,NULL,"a, ""quoted"" value"\r\nT2,,N/A\r\n'
    table = read_landing_file(data, "csv", "transactions")
    assert table.column_names == ["transaction_id", "amount", "note"]
    assert table.to_pylist() == [
        {"transaction_id": "  T1 ", "amount": "NULL", "note": 'a, "quoted" value'},
        {"transaction_id": "T2", "amount": "", "note": "N/A"},
    ]


def test_a_utf8_bom_does_not_hide_the_key_column():
    table = read_landing_file("\ufefftransaction_id\nT1\n".encode(), "csv", "transactions")
    assert table.column_names == ["transaction_id"]


def test_gzip_csv_is_read():
    table = read_landing_file(gzip.compress(b"client_id\nC1\nC2\n"), "csv.gz", "clients")
    assert table.num_rows == 2


def test_parquet_columns_of_any_type_become_text():
    buf = io.BytesIO()
    pq.write_table(pa.table({"ASSET_ID": ["A1"], "risk_rating": pa.array([3], pa.int32())}), buf)
    table = read_landing_file(buf.getvalue(), "parquet", "assets")
    assert table.to_pylist() == [{"asset_id": "A1", "risk_rating": "3"}]


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (b"", "csv", "empty file"),
        (b"transaction_id\n", "csv", "no data rows"),
        (b"client_id,amount\nC1,5\n", "csv", "missing key column 'transaction_id'"),
        (b"T1,C1,5\n", "csv", "no_header"),
        (b"transaction_id,amount,amount\nT1,1,2\n", "csv", "duplicate column"),
        (b"transaction_id,,x\nT1,1,2\n", "csv", "blank column name"),
        (b"transaction_id,amount\nT1,5\nT2\n", "csv", "malformed_csv"),
        ("transaction_id,client\nT1,Müller\n".encode("latin-1"), "csv", "not valid UTF-8"),
        (b"PAR1....", "csv", "content is Parquet"),
        (b"transaction_id\nT1\n", "parquet", "not a readable Parquet"),
        (gzip.compress(b"transaction_id\nT1\n")[:-4], "csv.gz", "truncated gzip"),
        (b"plain text", "csv.gz", "not a valid gzip"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(data, fmt, reason):
    with pytest.raises(FileRejected, match=reason):
        read_landing_file(data, fmt, "transactions")


def test_landing_keys_follow_the_layout():
    key = parse_key("transactions/dt=2026-11-20/part-1.CSV.GZ")
    assert (key.source, key.dt, key.fmt) == ("transactions", "2026-11-20", "csv.gz")
    for bad, reason in [("transactions/part.csv", "does not follow"), ("trades/dt=2026-11-20/a.csv", "unknown source"),
                        ("assets/dt=2026-11-20/a.json", "unsupported file type")]:
        with pytest.raises(LayoutError, match=reason):
            parse_key(bad)
