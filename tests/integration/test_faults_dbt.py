"""Trino dies while dbt merges the incremental fact; once Trino is back, the retried build passes and the fact holds
every valid transaction exactly once.

This is what the WATCHER producer's retry does (one `dbt build`), run here without the scheduler so that the data
side of the recovery is proved in a minute or two; the scheduler side is docs/reliability.md's known gap.
"""

from __future__ import annotations

import pytest

from include.pipeline.dbt import NO_UNIT_TESTS
from include.settings import trino_connection
from tests.integration.dbt_helpers import LAYERS, build_deliveries, create_raw_tables, insert_delivery, run_dbt
from tests.integration.faults import kill, restored, run_in_thread, service
from tests.integration.test_faults_ingestion import _query_after_outage
from tests.integration.test_watcher_retry import _running_query_of

pytestmark = [pytest.mark.integration, pytest.mark.fault]

RAW_SCHEMA = "dbt_fault_raw"
SUFFIX = "_dbt_fault"
DBT_VARS = {"raw_schema": RAW_SCHEMA, "schema_suffix": SUFFIX, "fact_lookback_hours": 0}


def _ok(result, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-5000:]}\n{result.stderr[-2000:]}"


def test_trino_killed_during_the_fact_merge_recovers_on_retry_without_duplicates(settings, tmp_path):
    catalog = settings.trino_catalog
    cur = trino_connection(settings).cursor()
    for layer in LAYERS:
        _query_after_outage(cur, f"drop schema if exists {catalog}.{layer}{SUFFIX} cascade")
    create_raw_tables(cur, catalog, RAW_SCHEMA)
    (first, second, *_), _ = build_deliveries()
    for delivery in first:
        insert_delivery(cur, catalog, RAW_SCHEMA, delivery, "fault-batch-1")
    models_only = ("--resource-type", "seed", "--resource-type", "model")
    _ok(run_dbt("build", *models_only, dbt_vars=DBT_VARS, target_path=tmp_path), "the first build")
    for delivery in second:
        insert_delivery(cur, catalog, RAW_SCHEMA, delivery, "fault-batch-2")

    trino = service(settings, "trino")
    with restored(trino):
        # The fact and what it reads, so the kill lands on its merge sooner.
        thread, outcome = run_in_thread(
            lambda: run_dbt("run", "--select", "+fact_transactions", dbt_vars=DBT_VARS, target_path=tmp_path))
        _running_query_of(settings, "model.lakehouse.fact_transactions", timeout=600)
        kill(trino)
        thread.join(timeout=600)
        assert outcome["result"].returncode != 0, "a build that lost Trino mid-merge must fail so it is retried"

    # The retry: the same command the producer task runs again.
    _ok(run_dbt("build", *NO_UNIT_TESTS, dbt_vars=DBT_VARS, target_path=tmp_path), "the retried build")
    cur = trino_connection(settings).cursor()
    fact = f"{catalog}.marts{SUFFIX}.fact_transactions"
    staged = f"{catalog}.staging{SUFFIX}.stg_transactions"
    (total, distinct), = _query_after_outage(cur, f"select count(*), count(distinct transaction_id) from {fact}")
    assert total == distinct, "the interrupted merge left duplicate rows"
    missing = _query_after_outage(cur, f"select count(*) from {staged} s where s.transaction_id not in "
                                       f"(select transaction_id from {fact})")
    assert missing == [[0]] and total > 0, "the retried merge lost transactions"
