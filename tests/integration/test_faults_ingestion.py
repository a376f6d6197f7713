"""The object store or the catalog database dies in the middle of a load; the next load recovers exactly.

An outage is the infrastructure's fault, not the file's: the load must fail (so Airflow retries it), quarantine
nothing, and after the service is back one more load must leave the raw table equal to a clean load's, with no
duplicate and no missing row.
"""

from __future__ import annotations

import csv
import io
import time

import pytest

from include.ingestion.contract import COLUMNS
from include.ingestion.loader import load
from include.ingestion.raw_tables import catalog
from tests.conftest import query
from tests.integration.faults import kill, restored, run_in_thread, service, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]

FILES, ROWS = 24, 400
HEADER = list(COLUMNS["transactions"])


def _csv(file_no: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for r in range(ROWS):
        row = dict(transaction_id=f"T{file_no:03d}-{r:04d}", client_id="C000001", asset_id="A0001",
                   transaction_type="buy", quantity="10", price="12.5", amount="125.00", fee="1.00", currency="USD",
                   executed_at="2026-11-20T10:00:00Z", channel="web", status="settled",
                   updated_at="2026-11-20T10:00:00Z")
        writer.writerow([row[c] for c in HEADER])
    return out.getvalue().encode()


@pytest.fixture()
def delivered(lake, s3):
    """An isolated lake with a day of transaction files in its landing bucket."""
    for n in range(FILES):
        s3.put_object(Bucket=lake.landing_bucket, Key=f"transactions/dt=2026-11-20/part-{n:03d}.csv", Body=_csv(n))
    return lake


def _snapshots(lake) -> int:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return len(catalog(lake).load_table((lake.raw_schema, "transactions")).metadata.snapshots)
    except NoSuchTableError:
        return 0


def _query_after_outage(trino, sql: str) -> list:
    """Trino's JDBC catalog fails its first queries after PostgreSQL comes back ("Cannot check and eventually
    update SQL schema") and then recovers by itself; a task meets that as one failed try and a retry."""
    from trino.exceptions import TrinoQueryError

    for _ in range(10):
        try:
            return query(trino, sql)
        except TrinoQueryError as exc:
            last = exc
            time.sleep(2)
    raise last


def _assert_exactly_once(trino, lake) -> None:
    table = f"{lake.trino_catalog}.{lake.raw_schema}.transactions"
    assert _query_after_outage(trino, f"select count(*), count(distinct transaction_id), count(distinct _source_file) "
                                      f"from {table}") == [[FILES * ROWS, FILES * ROWS, FILES]]
    # A file can carry two ledger rows when loaders race (readers dedupe on key and ETag); an outage adds none.
    ledger = _query_after_outage(trino, f"select status, count(*), count(distinct landing_key) from "
                                        f"{lake.trino_catalog}.{lake.raw_schema}.ingest_ledger group by status")
    assert ledger == [["loaded", FILES, FILES]], "an outage must not quarantine or double-record any file"


@pytest.mark.parametrize("victim", ["s3proxy", "postgres"])
def test_a_service_killed_mid_load_fails_the_load_and_the_retry_loads_each_row_once(settings, delivered, trino, victim):
    lake = delivered
    svc = service(settings, victim)
    with restored(svc):
        thread, outcome = run_in_thread(lambda: load(lake, sources=["transactions"]))
        # Kill once the first file is committed, so the outage hits a load that is half done.
        wait_for(lambda: _snapshots(lake) >= 1 or not thread.is_alive(), 120, "the first commit")
        assert thread.is_alive(), f"the load finished before the fault: {outcome}"
        kill(svc)
        thread.join(timeout=300)
        assert not thread.is_alive(), "the load hung on the outage instead of failing"
        assert "error" in outcome, "a load that lost its store/catalog mid-way must fail so the task retries"
    report = load(lake, sources=["transactions"])
    assert report.count("quarantined") == report.count("reported") == 0
    _assert_exactly_once(trino, lake)
