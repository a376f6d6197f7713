"""
## Lakehouse maintenance

Weekly Iceberg housekeeping through Trino on the raw tables, the ingest ledger and every dbt model updated in place
(materialized `incremental`, read from the dbt manifest: `marts.fact_transactions` and the models feeding it):
`optimize` compacts the small files each load and dbt run adds, `expire_snapshots` drops snapshots older than the
retention, `remove_orphan_files` deletes files no snapshot references. The retention is
`LAKEHOUSE_MAINTENANCE_RETENTION` (default 7d); Trino refuses one below the catalog's floor.

The ingest ledger is brought up to date first (rollbacks, crash leftovers), while the snapshots that show them
still exist. Exactly-once reads the ledger, never the snapshot history, so expiring snapshots loads nothing twice.
"""

from __future__ import annotations

from airflow.sdk import chain, dag, task

from include.pipeline import maintenance
from include.pipeline.defaults import default_args
from include.settings import get_settings

settings = get_settings()


@dag(
    dag_id=settings.pipeline.maintenance_dag_id,
    schedule="0 3 * * 0",  # Sundays 03:00 UTC, after the night's pipeline run
    start_date=settings.pipeline.start_date,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(settings),
    tags=["lakehouse", "maintenance", "iceberg"],
    doc_md=__doc__,
)
def lakehouse_maintenance():
    @task
    def repair_ledger() -> dict:
        """Record rollbacks and crash leftovers in the ingest ledger before their snapshots expire."""
        return maintenance.repair_ledger(get_settings())

    @task
    def maintain(table: str) -> dict:
        """Optimize, expire snapshots and remove orphan files of one table."""
        s = get_settings()
        return maintenance.maintain_table(maintenance.trino_cursor(s), table, s.trino_catalog,
                                          s.pipeline.maintenance_retention)

    # One table at a time: optimize is the heaviest query the lakehouse runs.
    chain(repair_ledger(), *[maintain.override(task_id=f"maintain_{t.replace('.', '__')}")(t)
                             for t in maintenance.tables(settings)])


lakehouse_maintenance()
