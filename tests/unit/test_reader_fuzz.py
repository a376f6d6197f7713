"""Time-boxed fuzz of the readers: whatever bytes arrive, a file reads as text batches or is rejected with a reason
code. Any other exception would stop the loader instead of quarantining the file."""

from __future__ import annotations

import csv
import gzip
import io

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.ingestion.contract import COLUMNS, FILE_REASONS
from include.ingestion.readers import FileRejected, ReadLimits, open_landing_file
from tests.unit.bad_input_corpus import GOOD_FILES

# Small limits so size and row caps and block boundaries are reached by small inputs too.
LIMITS = ReadLimits(max_inflated_bytes=1 << 16, max_rows=200, max_extra_columns=3, batch_bytes=1 << 10)
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CONTRACT = COLUMNS["transactions"]
odd_names = st.sampled_from(["Transaction_ID", " amount ", "_source_row", "$path", "a.b", "", "x" * 70, "note", "é",
                             '"q"', "amount"])
headers = st.builds(lambda picked, odd: ["transaction_id", *[c for c in picked if c != "transaction_id"], *odd],
                    st.lists(st.sampled_from(CONTRACT), max_size=5, unique=True),
                    st.one_of(st.just([]), st.just([]), st.just([]), odd_names.map(lambda name: [name])))
plain_cells = st.text(alphabet=st.sampled_from(list("ab1 .-é€\t;")), max_size=8)
quoted_cells = st.text(alphabet=st.sampled_from(list('ab1,"\r\n é')), max_size=8).map(
    lambda v: '"' + v.replace('"', '""') + '"')
raw_cells = st.text(alphabet=st.sampled_from(list('ab,"\r\n\x00')), max_size=4)
clean_cells = st.one_of(plain_cells, plain_cells, quoted_cells)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(headers)
    ragged = draw(st.integers(0, 3)) == 0  # a quarter of the files have raw cells and rows of any width
    width = st.integers(0, len(header) + 2) if ragged else st.just(len(header))
    cells = st.one_of(clean_cells, raw_cells) if ragged else clean_cells
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(cells, min_size=n, max_size=n)), max_size=40))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    last = draw(st.sampled_from([end, ""]))
    return (",".join(header) + end + end.join(",".join(r) for r in rows) + last).encode()


def _seed_parquet() -> bytes:
    import io

    import pyarrow.parquet as pq

    n = 150
    table = pa.table({"transaction_id": [f"T{i}" for i in range(n)], "amount": [str(i * 1.5) for i in range(n)],
                      "quantity": pa.array(range(n), pa.int64()), "currency": pa.array(["EUR", "USD"] * 75)
                      .dictionary_encode()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=50)
    return buffer.getvalue()


SEEDS = {
    "parquet": _seed_parquet(),
    "csv.gz": gzip.compress(b"transaction_id,amount\n" + b"".join(b"T%d,%d.5\n" % (i, i) for i in range(150))),
    "csv": GOOD_FILES["crlf-line-ends.csv"],
}
edits = st.lists(st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4)


def mutate(data: bytes, changes) -> bytes:
    out = bytearray(data)
    for position, new in changes:
        at = position % max(len(out), 1)
        out[at:at + len(new)] = new
    return bytes(out)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def read_or_reject(path, fmt) -> list[list[str]] | None:
    """The rows read, or None when the file is rejected with a reason code; anything else fails the test."""
    try:
        with open_landing_file(path, fmt, "transactions", LIMITS) as landing:
            rows = []
            for batch in landing.batches():
                assert batch.schema.names == landing.columns
                assert all(field.type == pa.string() for field in batch.schema)
                rows += [list(row.values()) for row in batch.to_pylist()]
            return rows
    except FileRejected as rejected:
        assert rejected.code in FILE_REASONS, rejected
        assert rejected.detail.isprintable() and len(rejected.detail) < 200, rejected
        return None


@FUZZ
@given(data=st.binary(max_size=2048), fmt=st.sampled_from(["csv", "csv.gz", "parquet"]))
def test_arbitrary_bytes_read_or_are_rejected(scratch, data, fmt):
    path = scratch / f"any.{fmt}"
    path.write_bytes(data)
    read_or_reject(path, fmt)


@FUZZ
@given(data=csv_files(), compressed=st.booleans())
def test_csv_like_text_reads_or_is_rejected(scratch, data, compressed):
    fmt = "csv.gz" if compressed else "csv"
    path = scratch / f"text.{fmt}"
    path.write_bytes(gzip.compress(data) if compressed else data)
    rows = read_or_reject(path, fmt)
    if rows is not None:  # values exactly as delivered: what Python's csv module reads, blank lines aside
        expected = [row for row in csv.reader(io.StringIO(data.decode(), newline=""), strict=True) if row][1:]
        assert rows == expected


@FUZZ
@given(fmt=st.sampled_from(list(SEEDS)), changes=edits, cut=st.none() | st.integers(1, 4096))
def test_damaged_good_files_read_or_are_rejected(scratch, fmt, changes, cut):
    data = mutate(SEEDS[fmt], changes)
    data = data[:cut] if cut else data
    path = scratch / f"damaged.{fmt}"
    path.write_bytes(data)
    read_or_reject(path, fmt)
