"""The ingest ledger against the real stack: exactly-once survives snapshot expiry, a rollback reloads what it
took away, and a crash between a file's data commit and its ledger row is repaired without duplicates."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from include.ingestion import ledger as ledger_module
from include.ingestion.loader import load
from include.ingestion.raw_tables import catalog
from tests.conftest import query
from tests.integration.test_ingestion import TX_HEADER, csv_bytes, put, tx_row

pytestmark = pytest.mark.integration


def put_day(s3, lake, name: str, n: int) -> None:
    put(s3, lake, f"transactions/dt=2026-11-20/{name}", csv_bytes(TX_HEADER, [tx_row(f"{name}-{i}") for i in range(n)]))


def counts(trino, lake) -> list:
    return query(trino, f"select count(*), count(distinct (_source_file, _source_row)) "
                        f"from {lake.trino_catalog}.{lake.raw_schema}.transactions")


def test_expiring_every_snapshot_but_the_current_one_loads_nothing_twice(s3, lake, trino):
    for name, n in (("a.csv", 3), ("b.csv", 4), ("c.csv", 5)):
        put_day(s3, lake, name, n)
        load(lake, sources=["transactions"])
    table = catalog(lake).load_table((lake.raw_schema, "transactions"))
    assert len(table.metadata.snapshots) >= 3
    table.maintenance.expire_snapshots().older_than(datetime.now(timezone.utc)).commit()
    table = catalog(lake).load_table((lake.raw_schema, "transactions"))
    assert [s.snapshot_id for s in table.metadata.snapshots] == [table.current_snapshot().snapshot_id]

    again = load(lake, sources=["transactions"])
    assert {f.status for f in again.files} == {"skipped"}
    assert counts(trino, lake) == [[12, 12]]


def test_rolling_a_raw_table_back_makes_its_files_load_again(s3, lake, trino):
    put_day(s3, lake, "a.csv", 2)
    load(lake, sources=["transactions"])
    table = f"{lake.trino_catalog}.{lake.raw_schema}.transactions"
    (before,) = query(trino, f'select snapshot_id from "{lake.trino_catalog}"."{lake.raw_schema}".'
                             f'"transactions$snapshots" order by committed_at desc limit 1')[0]
    put_day(s3, lake, "b.csv", 3)
    put_day(s3, lake, "c.csv", 4)
    load(lake, sources=["transactions"])
    assert counts(trino, lake) == [[9, 9]]

    query(trino, f"alter table {table} execute rollback_to_snapshot({before})")
    assert counts(trino, lake) == [[2, 2]]
    again = load(lake, sources=["transactions"])
    assert sorted(f.key.rsplit("/", 1)[1] for f in again.files if f.status == "loaded") == ["b.csv", "c.csv"]
    assert counts(trino, lake) == [[9, 9]]
    assert query(trino, f"select count(*) from {lake.trino_catalog}.{lake.raw_schema}.ingest_ledger "
                        "where status = 'loaded'") == [[3]]


def test_a_crash_between_data_commit_and_ledger_row_is_repaired_without_duplicates(s3, lake, trino,
                                                                                   monkeypatch):
    put_day(s3, lake, "a.csv", 2)
    load(lake, sources=["transactions"])
    put_day(s3, lake, "b.csv", 3)
    record = ledger_module.Ledger.record

    def crash_on_loaded(self, entries):
        entries = list(entries)
        if any(e.status == "loaded" for e in entries):
            raise RuntimeError("simulated crash after the data commit")
        return record(self, entries)

    monkeypatch.setattr(ledger_module.Ledger, "record", crash_on_loaded)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load(lake, sources=["transactions"])
    monkeypatch.setattr(ledger_module.Ledger, "record", record)
    assert counts(trino, lake) == [[5, 5]], "the data of b.csv was committed"

    again = load(lake, sources=["transactions"])
    assert [(f.key.rsplit("/", 1)[1], f.status) for f in again.files] == [("a.csv", "skipped"), ("b.csv", "skipped")]
    assert counts(trino, lake) == [[5, 5]]
    assert query(trino, f"select regexp_extract(landing_key, '[^/]+$'), rows_loaded "
                        f"from {lake.trino_catalog}.{lake.raw_schema}.ingest_ledger order by 1") == [
        ["a.csv", 2], ["b.csv", 3]]


def test_a_landing_day_reconciles_delivered_with_loaded_quarantined_and_reported(s3, lake, monkeypatch,
                                                                                 capsys):
    from devtools.report import reconciliation
    from include.ingestion.__main__ import main
    from include.ingestion.reconcile import reconcile_day

    put_day(s3, lake, "a.csv", 2)
    put(s3, lake, "transactions/dt=2026-11-20/empty.csv", b"")
    put(s3, lake, "transactions/dt=2026-11-20/", b"")
    put(s3, lake, "clients/dt=2026-11-20/clients.csv", b"client_id\nC1\n")
    put(s3, lake, "trades/dt=2026-11-20/x.csv", b"x\n1\n")
    put(s3, lake, "transactions/dt=2026-11-21/late.csv", csv_bytes(TX_HEADER, [tx_row("L1")]))
    load(lake)

    day = reconcile_day("2026-11-20", lake)
    assert (day.delivered, day.loaded, day.quarantined, day.reported, day.rows_loaded) == (4, 2, 1, 1, 3)
    assert day.balanced and day.outside_prefixes == 1
    assert [line.split(" — ")[1] for line in reconciliation(lake)] == ["balanced; 1 recorded outside the source "
                                                                       "prefixes", "balanced"]

    put_day(s3, lake, "b.csv", 1)  # delivered after the load: pending until the next one
    for name, value in (("LANDING_BUCKET", lake.landing_bucket), ("QUARANTINE_BUCKET", lake.quarantine_bucket),
                        ("RAW_SCHEMA", lake.raw_schema)):
        monkeypatch.setenv(name, value)
    assert main(["reconcile", "--day", "2026-11-20"]) == 1
    assert "pending: transactions/dt=2026-11-20/b.csv" in capsys.readouterr().out
    load(lake)
    assert main(["reconcile", "--day", "2026-11-20"]) == 0
    assert "delivered 5 = loaded 3 + quarantined 1 + reported 1 (4 rows)" in capsys.readouterr().out


def test_a_days_load_reads_only_its_days_ledger_rows_and_walks_no_older_snapshots(s3, lake):
    days = [f"2026-11-{d}" for d in range(10, 18)]
    for day in days:
        put(s3, lake, f"transactions/dt={day}/a.csv", csv_bytes(TX_HEADER, [tx_row(f"T{day}")]))
    load(lake, sources=["transactions"])  # history: one snapshot and one ledger row per day
    put(s3, lake, "transactions/dt=2026-11-18/a.csv", csv_bytes(TX_HEADER, [tx_row("T18")]))

    report = load(lake, sources=["transactions"], up_to="2026-11-18", lookback_days=1)
    assert [(f.key[16:26], f.status) for f in report.files] == [("2026-11-17", "skipped"), ("2026-11-18", "loaded")]
    assert len(catalog(lake).load_table((lake.raw_schema, "transactions")).metadata.snapshots) == len(days) + 1
    # One filtered ledger read holding the window's one row; the watermark is the current snapshot, once at the
    # start (repair) and once before the commit.
    assert (report.costs["ledger_scans"], report.costs["ledger_rows_read"]) == (1, 1)
    assert report.costs["snapshots_walked"] == 2
