"""The loader against the real stack: every delivered row lands once, as delivered, or its file is quarantined."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.ingestion.contract import COLUMNS, META_COLUMNS
from include.ingestion.loader import load
from include.ingestion.raw_tables import catalog
from include.settings import REPO_ROOT
from tests.conftest import query

pytestmark = pytest.mark.integration

TX_HEADER = list(COLUMNS["transactions"])


def put(s3, lake, key: str, body: bytes) -> None:
    s3.put_object(Bucket=lake.landing_bucket, Key=key, Body=body)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def tx_row(tx_id: str, **overrides: str) -> list[str]:
    row = dict(transaction_id=tx_id, client_id="C000001", asset_id="A0001", transaction_type="buy", quantity="10",
               price="12.5", amount="125.00", fee="1.00", currency="USD", executed_at="2026-11-20T10:00:00Z",
               channel="web", status="settled", updated_at="2026-11-20T10:00:00Z")
    row.update(overrides)
    return [row[c] for c in TX_HEADER]


def raw_rows(trino, lake, source: str, columns: str = "*") -> list:
    return query(trino, f"select {columns} from {lake.trino_catalog}.{lake.raw_schema}.{source} "
                        "order by _ingested_at, _source_file, _source_row")


# Every kind of dirt the landing contract says real deliveries contain.
DIRTY_ROWS = [
    tx_row("T1", client_id="  C000001  ", channel=" Web "),            # surrounding whitespace
    tx_row("T2", transaction_type="BUY", status="Settled"),            # mixed-case enumerations
    tx_row("T3", currency="usd"),                                       # lower-case currency
    tx_row("T4", fee=""),                                               # empty string
    tx_row("T5", fee="NULL"),                                           # NULL token
    tx_row("T6", fee="N/A"),                                            # N/A token
    tx_row("T7", executed_at="2026-11-20 10:00:00"),                   # naive, space separator
    tx_row("T8", executed_at="2026-11-20T11:00:00+01:00"),             # offset
    tx_row("T9", quantity="ten"),                                       # unparseable number
    tx_row("T10", channel="fax"),                                       # unknown enumeration
    tx_row("T1", client_id="  C000001  ", channel=" Web "),            # repeated within the file
    tx_row("", amount="5"),                                             # missing id
    tx_row("T11", price='12,5 "quoted"'),                              # RFC 4180 quoting
]


def test_each_dirty_case_reaches_the_raw_table_unchanged(s3, lake, trino):
    put(s3, lake, "transactions/dt=2026-11-20/dirty.csv", csv_bytes(TX_HEADER, DIRTY_ROWS))
    report = load(lake)
    assert [(f.status, f.rows) for f in report.files] == [("loaded", len(DIRTY_ROWS))]
    stored = raw_rows(trino, lake, "transactions", ", ".join(TX_HEADER))
    assert stored == DIRTY_ROWS


def test_clients_booleans_and_assets_load_as_text(s3, lake, trino):
    asset_header = list(COLUMNS["assets"])
    spellings = ["true", "false", "yes", "no", "y", "n", "1", "0", "TRUE", " Yes "]
    rows = [[f"A{i}", "SYM", "Name", "Equity", "Tech", "usd", "XNAS", "US0000000000", "3", flag, "2026-11-20"]
            for i, flag in enumerate(spellings)]
    put(s3, lake, "assets/dt=2026-11-20/assets.csv", csv_bytes(asset_header, rows))
    load(lake)
    assert [r[0] for r in raw_rows(trino, lake, "assets", "is_active")] == spellings


def test_reloading_the_same_file_loads_nothing(s3, lake, trino):
    put(s3, lake, "transactions/dt=2026-11-20/a.csv", csv_bytes(TX_HEADER, [tx_row("T1"), tx_row("T2")]))
    first = load(lake)
    second = load(lake)
    assert [f.status for f in first.files] == ["loaded"]
    assert [(f.status, f.reason) for f in second.files] == [("skipped", "already loaded")]
    # The same bytes uploaded again to the same key keep their ETag: still nothing new.
    put(s3, lake, "transactions/dt=2026-11-20/a.csv", csv_bytes(TX_HEADER, [tx_row("T1"), tx_row("T2")]))
    assert [f.status for f in load(lake).files] == ["skipped"]
    assert query(trino, f"select count(*) from {lake.trino_catalog}.{lake.raw_schema}.transactions") == [[2]]


def test_a_changed_file_at_the_same_key_is_a_new_delivery(s3, lake, trino):
    key = "transactions/dt=2026-11-20/a.csv"
    put(s3, lake, key, csv_bytes(TX_HEADER, [tx_row("T1", status="pending")]))
    load(lake)
    put(s3, lake, key, csv_bytes(TX_HEADER, [tx_row("T1", status="settled", updated_at="2026-11-21T09:00:00Z")]))
    assert [f.status for f in load(lake).files] == ["loaded"]
    stored = raw_rows(trino, lake, "transactions", "status, _source_etag")
    assert [s for s, _ in stored] == ["pending", "settled"] and stored[0][1] != stored[1][1]


def test_two_concurrent_loaders_load_each_file_once(s3, lake, trino):
    keys = [f"transactions/dt=2026-11-2{d}/part-{i}.csv" for d in range(3) for i in range(2)]
    for n, key in enumerate(keys):
        put(s3, lake, key, csv_bytes(TX_HEADER, [tx_row(f"T{n}-{r}") for r in range(50)]))
    env = {"PYTHONPATH": str(REPO_ROOT), "LANDING_BUCKET": lake.landing_bucket,
           "QUARANTINE_BUCKET": lake.quarantine_bucket, "RAW_SCHEMA": lake.raw_schema}
    import os

    cmd = [sys.executable, "-m", "include.ingestion", "load", "--json"]
    procs = [subprocess.Popen(cmd, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    loaded = [f["key"] for r in reports for f in r["files"] if f["status"] == "loaded"]
    assert sorted(loaded) == sorted(keys), "each file is loaded by exactly one of the two loaders"
    assert query(trino, f"select count(*), count(distinct _source_file) from "
                        f"{lake.trino_catalog}.{lake.raw_schema}.transactions") == [[len(keys) * 50, len(keys)]]


BROKEN = {
    "transactions/dt=2026-11-20/empty.csv": (b"", "empty_file"),
    "transactions/dt=2026-11-20/header-only.csv": (b"transaction_id,amount\r\n", "header_only"),
    "transactions/dt=2026-11-20/truncated.csv.gz": (gzip.compress(b"transaction_id\nT1\nT2\n")[:-6],
                                                    "not_declared_format"),
    "transactions/dt=2026-11-20/not-parquet.parquet": (b"transaction_id\nT1\n", "not_declared_format"),
    "transactions/dt=2026-11-20/wrong-header.csv": (b"client_id,amount\nC1,5\n", "missing_key_column"),
    "transactions/dt=2026-11-20/no-header.csv": (b"T1,C1,5\nT2,C2,6\n", "no_header"),
    "transactions/dt=2026-11-20/ragged.csv": (b"transaction_id,amount\nT1,5\nT2\n", "malformed_csv"),
    "transactions/dt=2026-11-20/latin1.csv": ("transaction_id,client_id\nT1,Müller\n".encode("latin-1"),
                                              "bad_encoding"),
    # Headers that crashed the loader or poisoned the raw table for every later query.
    "transactions/dt=2026-11-20/meta-column.csv": (b"transaction_id,_source_file\nT1,x\n", "bad_header"),
    "transactions/dt=2026-11-20/dotted.csv": (b"transaction_id,fee.eur\nT1,1\n", "bad_header"),
    "transactions/dt=2026-11-20/hidden.csv": (b"transaction_id,$path\nT1,1\n", "bad_header"),
    # Keys outside the contract: quarantined, never skipped or loaded.
    "transactions/loose-file.csv": (b"transaction_id\nT1\n", "bad_layout"),
    "transactions/dt=2026-11-20/deeper/x.csv": (b"transaction_id\nT1\n", "bad_layout"),
    "transactions/dt=2026-11-20/notes.json": (b"{}", "unsupported_format"),
    "transactions/dt=2026-02-30/a.csv": (b"transaction_id\nT1\n", "bad_date"),
    "trades/dt=2026-11-20/a.csv": (b"transaction_id\nT1\n", "unknown_source"),
}
MARKERS = ["transactions/", "transactions/dt=2026-11-20/"]


def test_every_object_ends_loaded_quarantined_or_reported_and_good_files_still_load(s3, lake, trino):
    for key, (body, _) in BROKEN.items():
        put(s3, lake, key, body)
    for key in MARKERS:
        put(s3, lake, key, b"")
    good = {"transactions/dt=2026-11-20/good.csv": csv_bytes(TX_HEADER, [tx_row("T1"), tx_row("T2")]),
            # CR-only line ends crashed the loader; they are valid line ends.
            "transactions/dt=2026-11-20/zz-cr-only.csv": csv_bytes(TX_HEADER, [tx_row("T3")]).replace(b"\r\n", b"\r")}
    for key, body in good.items():
        put(s3, lake, key, body)
    report = load(lake)

    by_key = {f.key: f for f in report.files}
    assert [(by_key[k].status, by_key[k].rows) for k in good] == [("loaded", 2), ("loaded", 1)]
    for key, (body, code) in BROKEN.items():
        assert (by_key[key].status, by_key[key].code) == ("quarantined", code), by_key[key]
        etag = by_key[key].etag
        doc = json.loads(s3.get_object(Bucket=lake.quarantine_bucket, Key=f"{key}.{etag}.reason.json")["Body"].read())
        assert doc["key"] == key and doc["reason"] == code
        assert s3.get_object(Bucket=lake.quarantine_bucket, Key=f"{key}.{etag}")["Body"].read() == body
        assert s3.get_object(Bucket=lake.landing_bucket, Key=key)["Body"].read() == body, "landing keeps it"
    assert [(by_key[k].status, by_key[k].code) for k in MARKERS] == [("reported", "folder_marker")] * 2
    assert len(report.files) == len(BROKEN) + len(MARKERS) + len(good), "every object is accounted for"
    table = f"{lake.trino_catalog}.{lake.raw_schema}"
    assert query(trino, f"select count(*) from {table}.transactions") == [[3]]
    assert query(trino, f"select status, count(*) from {table}.ingest_ledger group by 1 order by 1") == [
        ["loaded", 2], ["quarantined", len(BROKEN)], ["reported", len(MARKERS)]]
    # Decisions are recorded once: the next run finds every object decided.
    again = load(lake)
    assert again.count("skipped") == len(report.files) and again.count("rejected") == 0


def test_a_file_past_the_limits_is_quarantined_as_too_large_and_nothing_of_it_is_committed(s3, lake, trino,
                                                                                          monkeypatch):
    import include.ingestion.raw_tables as raw_tables
    from include.ingestion.readers import ReadLimits

    # Tiny batches and data files, so the limit strikes after some data files of the file were written.
    monkeypatch.setattr(raw_tables, "DATA_FILE_TARGET_BYTES", 1)
    rows = [tx_row(f"T{i}") for i in range(400)]
    put(s3, lake, "transactions/dt=2026-11-20/big.csv", csv_bytes(TX_HEADER, rows))
    put(s3, lake, "transactions/dt=2026-11-20/bomb.csv.gz", gzip.compress(b"transaction_id\n" + b"T\n" * 200_000))
    put(s3, lake, "transactions/dt=2026-11-20/small.csv", csv_bytes(TX_HEADER, rows[:100]))
    limits = ReadLimits(max_rows=300, max_inflated_bytes=100_000, batch_bytes=8 << 10)
    report = load(lake, limits=limits)
    assert [(f.key.rsplit("/", 1)[1], f.status, f.code, f.rows) for f in report.files] == [
        ("big.csv", "quarantined", "too_large", 0), ("bomb.csv.gz", "quarantined", "too_large", 0),
        ("small.csv", "loaded", None, 100)]
    assert query(trino, f"select count(*) from {lake.trino_catalog}.{lake.raw_schema}.transactions") == [[100]]
    # The loaded file is one snapshot made of several data files: atomic, whatever its size.
    snapshot = catalog(lake).load_table((lake.raw_schema, "transactions")).current_snapshot()
    assert int(snapshot.summary["added-data-files"]) > 1 and snapshot.summary["added-records"] == "100"


def test_raw_row_count_equals_data_rows_in_the_files(s3, lake, trino):
    sizes = {"a.csv": 7, "b.csv": 1, "c.csv": 120}
    for name, n in sizes.items():
        rows = [tx_row(f"{name}-{i}") for i in range(n)]
        put(s3, lake, f"transactions/dt=2026-11-21/{name}", csv_bytes(TX_HEADER, rows))
    report = load(lake)
    assert report.rows_loaded == sum(sizes.values())
    counts = query(trino, f"select regexp_extract(_source_file, '[^/]+$'), count(*), max(_source_row) from "
                          f"{lake.trino_catalog}.{lake.raw_schema}.transactions group by 1 order by 1")
    assert counts == [[name, n, n] for name, n in sorted(sizes.items())]


def test_an_extra_column_evolves_the_schema(s3, lake, trino):
    put(s3, lake, "transactions/dt=2026-11-20/a.csv", csv_bytes(TX_HEADER, [tx_row("T1")]))
    load(lake)
    put(s3, lake, "transactions/dt=2026-11-21/b.csv",
        csv_bytes(TX_HEADER + ["Broker_Ref"], [tx_row("T2") + ["BR-9"]]))
    report = load(lake)
    assert report.files[-1].extra_columns == ["broker_ref"]
    rows = raw_rows(trino, lake, "transactions", "transaction_id, broker_ref")
    assert rows == [["T1", None], ["T2", "BR-9"]]


def test_csv_gzip_csv_and_parquet_all_load(s3, lake, trino):
    rows = [tx_row("T1"), tx_row("T2")]
    put(s3, lake, "transactions/dt=2026-11-20/a.csv", csv_bytes(TX_HEADER, rows))
    put(s3, lake, "transactions/dt=2026-11-20/b.csv.gz", gzip.compress(csv_bytes(TX_HEADER, rows)))
    # Header case and column order are free; Parquet columns arrive in a different order and case.
    shuffled = list(reversed(TX_HEADER))
    table = pa.table({name.upper(): [r[TX_HEADER.index(name)] for r in rows] for name in shuffled})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    put(s3, lake, "transactions/dt=2026-11-20/c.parquet", buf.getvalue())
    report = load(lake)
    assert [(f.status, f.rows) for f in report.files] == [("loaded", 2)] * 3
    stored = raw_rows(trino, lake, "transactions", ", ".join(TX_HEADER))
    assert stored == rows * 3


def test_a_run_for_one_day_leaves_later_partitions_for_their_own_run(s3, lake, trino):
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):
        put(s3, lake, f"transactions/dt={day}/a.csv", csv_bytes(TX_HEADER, [tx_row(f"T{day}")]))
    first = load(lake, up_to="2026-11-20")
    assert sorted(f.key for f in first.files if f.status == "loaded") == [
        "transactions/dt=2026-11-19/a.csv", "transactions/dt=2026-11-20/a.csv"]
    second = load(lake, up_to="2026-11-21")
    assert [f.key for f in second.files if f.status == "loaded"] == ["transactions/dt=2026-11-21/a.csv"]


def test_raw_tables_carry_load_metadata(s3, lake, trino):
    put(s3, lake, "transactions/dt=2026-11-20/a.csv", csv_bytes(TX_HEADER, [tx_row("T1")]))
    report = load(lake)
    (row,) = raw_rows(trino, lake, "transactions", ", ".join(META_COLUMNS))
    assert row[0] == f"s3://{lake.landing_bucket}/transactions/dt=2026-11-20/a.csv"
    assert row[1] == report.files[0].etag and row[2] == 1 and row[4] == report.batch_id
    assert row[3] is not None


def test_pyiceberg_and_trino_see_each_others_tables_and_commits(lake, trino):
    cat_name, schema = lake.trino_catalog, lake.raw_schema
    query(trino, f"create schema if not exists {cat_name}.{schema}")
    query(trino, f"create table {cat_name}.{schema}.from_trino (id bigint)")
    query(trino, f"insert into {cat_name}.{schema}.from_trino values (1), (2)")

    cat = catalog(lake)
    table = cat.load_table((schema, "from_trino"))
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2]

    table.append(pa.table({"id": pa.array([3], pa.int64())}))
    assert query(trino, f"select count(*) from {cat_name}.{schema}.from_trino") == [[3]]

    query(trino, f"insert into {cat_name}.{schema}.from_trino values (4)")
    assert sorted(cat.load_table((schema, "from_trino")).scan().to_arrow().column("id").to_pylist()) == [1, 2, 3, 4]


def test_a_days_run_lists_its_look_back_days_by_prefix_not_the_buckets_history(s3, lake, trino):
    from include.ingestion.reconcile import reconcile_day
    from include.settings import s3_client

    days = [f"2026-11-{d}" for d in range(10, 16)]
    for day in days:
        put(s3, lake, f"transactions/dt={day}/a.csv", csv_bytes(TX_HEADER, [tx_row(f"T{day}")]))
    put(s3, lake, "trades/x.csv", b"x\n1\n")  # outside the layout: listed on every run, quarantined once
    client, prefixes, listed = s3_client(lake), [], []
    # A real client with boto3's event hooks counting the list requests and the keys they return.
    client.meta.events.register("before-parameter-build.s3.ListObjectsV2",
                                lambda params, **_: prefixes.append(params.get("Prefix", "")))
    client.meta.events.register("after-call.s3.ListObjectsV2",
                                lambda parsed, **_: listed.extend(o["Key"] for o in parsed.get("Contents", [])))
    report = load(lake, sources=["transactions"], up_to="2026-11-14", lookback_days=1, client=client)

    assert [(f.key, f.status) for f in report.files] == [
        ("trades/x.csv", "quarantined"), ("transactions/dt=2026-11-13/a.csv", "loaded"),
        ("transactions/dt=2026-11-14/a.csv", "loaded")]
    assert sorted(prefixes) == ["", "trades/", "transactions/", "transactions/dt=2026-11-13/",
                                "transactions/dt=2026-11-14/"]
    assert sorted(listed) == [f.key for f in report.files], "no key of another day was listed"
    # A file older than the window is the trade-off: reconciliation reports it and a full sweep loads it.
    assert reconcile_day("2026-11-10", lake).pending == ["transactions/dt=2026-11-10/a.csv"]
    sweep = load(lake, sources=["transactions"])
    assert [f.key[16:26] for f in sweep.files if f.status == "loaded"] == days[:3] + days[5:]


def test_raw_tables_are_partitioned_by_ingest_day_and_an_unpartitioned_one_is_evolved_in_place(s3, lake, trino):
    from include.ingestion.raw_tables import TABLE_PROPERTIES, ensure_iceberg_table, iceberg_schema

    # A clients table as releases before partitioning made it, holding one row.
    old = ensure_iceberg_table(catalog(lake), (lake.raw_schema, "clients"), iceberg_schema("clients"),
                               TABLE_PROPERTIES)
    assert not old.spec().fields
    old.append(pa.Table.from_pylist([{"client_id": "C0"}], schema=old.schema().as_arrow()))
    put(s3, lake, "clients/dt=2026-11-20/c.csv", b"client_id\nC1\n")
    put(s3, lake, "transactions/dt=2026-11-20/a.csv", csv_bytes(TX_HEADER, [tx_row("T1")]))
    load(lake)

    schema = f'"{lake.trino_catalog}"."{lake.raw_schema}"'
    for source in ("clients", "transactions"):
        assert [f.name for f in catalog(lake).load_table((lake.raw_schema, source)).spec().fields] == [
            "_ingested_at_day"]
    today = datetime.now(timezone.utc).date().isoformat()
    assert query(trino, f"select count(*) from {schema}.\"transactions$partitions\" "
                        f"where partition._ingested_at_day = date '{today}'") == [[1]]
    files = query(trino, f"select strpos(file_path, '/_ingested_at_day='), record_count "
                         f"from {schema}.\"clients$files\" order by 1")
    assert [(pos > 0, n) for pos, n in files] == [(False, 1), (True, 1)], "old file kept, new one partitioned"
    assert query(trino, f"select client_id from {schema}.clients order by 1") == [["C0"], ["C1"]]
