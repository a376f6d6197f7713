"""Landing-file reading rules, without S3: what is kept as delivered, what rejects a whole file and why, in bounded
memory."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pytest

from include.ingestion import readers
from include.ingestion.contract import FILE_REASONS
from include.ingestion.readers import FileRejected, ReadLimits, open_landing_file
from tests.unit.bad_input_corpus import (
    BAD_FILES,
    GOOD_FILES,
    GOOD_ROWS,
    HEADER,
    PRIVATE_NAME,
    ROW,
    SECRET,
    SOURCE,
    csv_bytes,
)

GOOD_BY_FORMAT = {"csv": "crlf-line-ends.csv", "csv.gz": "good.csv.gz", "parquet": "good.parquet"}


def read_rows(path, fmt, source=SOURCE, limits=None) -> list[dict]:
    with open_landing_file(path, fmt, source, limits or ReadLimits()) as landing:
        rows = []
        for batch in landing.batches():
            assert all(field.type == pa.string() for field in batch.schema)
            assert batch.schema.names == landing.columns
            rows += batch.to_pylist()
        return rows


def test_values_are_kept_exactly_as_delivered(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'Transaction_ID , Amount,Note\r\n  T1 ,NULL,"a, ""quoted""\r\nvalue"\r\nT2,,N/A\r\n')
    with open_landing_file(path, "csv", "transactions", ReadLimits()) as landing:
        assert landing.columns == ["transaction_id", "amount", "note"]
        assert landing.extra_columns == ["note"]
        rows = [row for batch in landing.batches() for row in batch.to_pylist()]
    assert rows == [
        {"transaction_id": "  T1 ", "amount": "NULL", "note": 'a, "quoted"\r\nvalue'},
        {"transaction_id": "T2", "amount": "", "note": "N/A"},
    ]


def test_parquet_columns_of_any_flat_type_become_text(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"ASSET_ID": pa.array(["A1", None]).dictionary_encode(),
                             "risk_rating": pa.array([3, None], pa.int32())}), path)
    assert read_rows(path, "parquet", "assets") == [{"asset_id": "A1", "risk_rating": "3"},
                                                     {"asset_id": None, "risk_rating": None}]


@pytest.mark.parametrize("name", GOOD_FILES)
def test_shapes_real_systems_send_read_correctly(tmp_path, name):
    """CR-only line ends used to crash the loader; these must load with every row intact."""
    path = tmp_path / name
    path.write_bytes(GOOD_FILES[name])
    fmt = "csv.gz" if name.endswith(".csv.gz") else name.rsplit(".", 1)[1]
    assert read_rows(path, fmt) == GOOD_ROWS


@pytest.mark.parametrize("case", BAD_FILES, ids=lambda case: case.name)
def test_a_bad_file_is_rejected_with_its_code_and_no_cell_value_and_the_next_file_still_reads(tmp_path, case):
    path = tmp_path / case.name
    path.write_bytes(case.data)
    limits = ReadLimits(**case.limits)
    with pytest.raises(FileRejected) as rejected:
        read_rows(path, case.fmt, limits=limits)
    assert rejected.value.code == case.code, rejected.value
    for private in (SECRET, PRIVATE_NAME, "jane", "SECRET"):
        assert private not in str(rejected.value), rejected.value
    good = tmp_path / GOOD_BY_FORMAT[case.fmt]
    good.write_bytes(GOOD_FILES[good.name])
    assert read_rows(good, case.fmt, limits=limits) == GOOD_ROWS


def test_the_corpus_covers_every_file_reason_code():
    assert {case.code for case in BAD_FILES} == set(FILE_REASONS)


def test_an_unexpected_reader_error_is_unreadable_and_carries_no_message(tmp_path, monkeypatch):
    import pyarrow.csv as pacsv

    def failing_reader(*args, **kwargs):
        raise KeyError(SECRET)

    monkeypatch.setattr(pacsv, "open_csv", failing_reader)
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(HEADER, ROW))
    with pytest.raises(FileRejected) as rejected:
        read_rows(path, "csv")
    assert rejected.value.code == "unreadable" and SECRET not in str(rejected.value)
    assert "KeyError" in rejected.value.detail


def test_a_gzip_bomb_is_too_large_without_being_inflated(tmp_path, monkeypatch):
    """64 MiB of CSV in a ~60 KiB gzip (one header member, then 64 copies of a 1 MiB member) against a 1 MiB cap:
    the reader stops soon after the cap."""
    member = gzip.compress(csv_bytes(ROW) * ((1 << 20) // (len(ROW) + 1)), 9)
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(csv_bytes(HEADER)) + member * 64)
    inflated = []
    real_open = readers._open_raw

    class Counting:
        def __init__(self, raw):
            self.raw = raw

        def read(self, size):
            data = self.raw.read(size)
            inflated.append(len(data))
            return data

        def close(self):
            self.raw.close()

    monkeypatch.setattr(readers, "_open_raw", lambda *args: Counting(real_open(*args)))
    with pytest.raises(FileRejected) as rejected:
        read_rows(path, "csv.gz", limits=ReadLimits(max_inflated_bytes=1 << 20, batch_bytes=256 << 10))
    assert rejected.value.code == "too_large"
    assert 1 << 20 < sum(inflated) < 4 << 20, f"inflated {sum(inflated)} bytes of a 64 MiB bomb"


@pytest.mark.parametrize("fmt", ["csv", "csv.gz"])
def test_a_large_file_is_read_in_batches_of_bounded_size(tmp_path, fmt):
    """32 MiB of CSV read in 1 MiB blocks never holds more than a few blocks in Arrow memory."""
    rows = (32 << 20) // (len(ROW) + 1)
    data = csv_bytes(HEADER) + csv_bytes(ROW) * rows
    path = tmp_path / f"big.{fmt}"
    path.write_bytes(gzip.compress(data, 1) if fmt == "csv.gz" else data)
    base, peak, seen = pa.total_allocated_bytes(), 0, 0
    with open_landing_file(path, fmt, SOURCE, ReadLimits(batch_bytes=1 << 20)) as landing:
        for batch in landing.batches():
            seen += batch.num_rows
            peak = max(peak, pa.total_allocated_bytes() - base)
    assert seen == rows
    assert peak < 12 << 20, f"peak Arrow memory {peak} bytes for a {len(data)} byte file"


def test_limits_can_be_set_from_the_environment(monkeypatch):
    from include.settings import IngestSettings

    assert ReadLimits.from_settings(IngestSettings()) == ReadLimits()
    monkeypatch.setenv("LAKEHOUSE_MAX_FILE_BYTES", "1000")
    monkeypatch.setenv("LAKEHOUSE_MAX_FILE_ROWS", "5")
    limits = ReadLimits.from_settings(IngestSettings())
    assert (limits.max_inflated_bytes, limits.max_rows) == (1000, 5)
