"""Weekly maintenance against the real stack: every Trino statement runs on the raw tables and the ledger, files
are compacted, and loading after maintenance loads nothing twice."""

from __future__ import annotations

import pytest

from include.ingestion.loader import load
from include.pipeline.maintenance import STATEMENTS, maintain_table, repair_ledger
from tests.conftest import query
from tests.integration.test_ingestion import TX_HEADER, csv_bytes, put, tx_row

pytestmark = pytest.mark.integration


def test_maintenance_compacts_the_raw_table_and_ledger_and_a_reload_adds_nothing(s3, lake, trino):
    for i in range(3):
        put(s3, lake, f"transactions/dt=2026-11-20/{i}.csv", csv_bytes(TX_HEADER, [tx_row(f"T{i}")]))
        load(lake, sources=["transactions"])
    raw = f"{lake.trino_catalog}.{lake.raw_schema}"
    assert query(trino, f'select count(*) from {raw}."transactions$files"') == [[3]]

    assert repair_ledger(lake)["transactions"] == {"invalidated_snapshots": 0, "recorded_late": 0}
    results = [maintain_table(trino, f"{lake.raw_schema}.{t}", lake.trino_catalog, retention="7d")
               for t in ("transactions", "ingest_ledger")]
    assert [sorted(r["seconds"]) for r in results] == [sorted(step for step, _ in STATEMENTS)] * 2
    assert query(trino, f'select count(*) from {raw}."transactions$files"') == [[1]]
    assert query(trino, f'select count(*) from {raw}."ingest_ledger$files"') == [[1]]

    again = load(lake, sources=["transactions"])
    assert {f.status for f in again.files} == {"skipped"}
    assert query(trino, f"select count(*) from {raw}.transactions") == [[3]]


def test_a_table_not_built_yet_is_skipped_and_a_bad_retention_is_refused(lake, trino):
    assert maintain_table(trino, f"{lake.raw_schema}.nothing_here", lake.trino_catalog, "7d") == {
        "table": f"{lake.raw_schema}.nothing_here", "skipped": "does not exist"}
    with pytest.raises(ValueError, match="duration"):
        maintain_table(trino, f"{lake.raw_schema}.transactions", lake.trino_catalog, retention="7 days; drop")
