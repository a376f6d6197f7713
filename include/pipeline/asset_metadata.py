"""Data quality on each dbt model's Asset event (the Assets page): rows, rows added or changed, tests passed and failed,
and rejected rows by rule for the `stg_*_rejected` models.

The event is emitted by the model's last task (its tests' task, or the model's own task when it has no tests), so an
event means "built and tested": a failing test fails that task and no event is emitted, and an Asset-scheduled DAG
never starts on untested data. The statuses and row counts come from what the dbt build reported for the model and
its tests; the table's size from one count query (no query for views).
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger(__name__)

# include.pipeline.dbt_results pushes each dbt invocation's node results under this key: a retried or cleared task
# runs dbt alone, and its own results are newer than the producer's.
RESULTS_XCOM_KEY = "lakehouse_dbt_results"
PASSED, FAILED = ("pass", "success"), ("fail", "error", "warn")
# dbt-trino's adapter response message: "CREATE TABLE (1_234 rows)", "MERGE (12 rows)"; a view has no count.
_ROWS = re.compile(r"\((\d[\d_,]*) rows?\)")


def rows_from_message(message: str | None) -> int | None:
    found = _ROWS.search(message or "")
    return int(re.sub(r"[_,]", "", found[1])) if found else None


class ModelEventMetadata:
    """post_execute hook of a model's last task: sets the `extra` of the model's Asset event.

    Metadata is informative, not the data contract: if it cannot be read the event goes out without it.
    """

    def __init__(self, asset, node, tests: list[str], producer_task_id: str, task_ids: list[str]):
        self.asset, self.tests, self.producer_task_id, self.task_ids = asset, tests, producer_task_id, task_ids
        self.unique_id = node.unique_id
        self.relation = asset.name
        self.materialized = node.config.get("materialized", "view")

    def __call__(self, context: Any, result: Any = None) -> None:
        try:
            extra = self.collect(context["ti"])
        except Exception as exc:  # noqa: BLE001 - the event must go out even when its metadata cannot be read
            log.warning("The Asset event of %s goes out without data-quality metadata: %s: %s", self.relation,
                        type(exc).__name__, exc)
            return
        log.info("Asset event metadata of %s: %s", self.relation, extra)
        context["outlet_events"][self.asset].extra = extra

    def collect(self, ti) -> dict[str, Any]:
        results = self.node_results(ti)
        statuses = [results.get(test, {}).get("status") for test in self.tests]
        extra: dict[str, Any] = {"materialized": self.materialized,
                                 "tests_passed": sum(s in PASSED for s in statuses),
                                 "tests_failed": sum(s in FAILED for s in statuses)}
        written = results.get(self.unique_id, {}).get("rows_affected")
        if written is not None and written >= 0:
            # A table is rebuilt whole each run, so every row is rewritten; an incremental model merges its changes.
            extra["rows_added_or_changed"] = written
        extra.update(self.table_counts())
        return extra

    def node_results(self, ti) -> dict[str, dict[str, Any]]:
        """Status and rows written of the model and its tests, as the producer's build and later retries reported."""
        from cosmos.operators._watcher.state import get_dbt_event_xcom_key

        wanted = [self.unique_id, *self.tests]
        results = {}
        for unique_id in wanted:
            event = ti.xcom_pull(task_ids=self.producer_task_id, key=get_dbt_event_xcom_key(unique_id))
            if isinstance(event, dict):
                written = rows_from_message(event.get("msg"))
                results[unique_id] = {"status": event.get("status"), "rows_affected": written}
        for task_id in self.task_ids:
            for result in ti.xcom_pull(task_ids=task_id, key=RESULTS_XCOM_KEY) or []:
                if result["unique_id"] in wanted:
                    results[result["unique_id"]] = result
        return results

    def table_counts(self) -> dict[str, Any]:
        if self.materialized == "view":
            return {}  # counting a view runs its whole query
        from airflow.providers.trino.hooks.trino import TrinoHook

        from include.settings import get_settings

        # Runs in the task: the settings are the task's own, not the ones of the parse that built this hook.
        settings = get_settings()
        cursor = TrinoHook(trino_conn_id=settings.pipeline.trino_conn_id).get_conn().cursor()
        table = f"{settings.trino_catalog}.{self.relation}"
        if not self.relation.rsplit(".", 1)[-1].endswith("_rejected"):
            cursor.execute(f"select count(*) from {table}")
            return {"rows": cursor.fetchone()[0]}
        cursor.execute(f"select rejection_rule, count(*) from {table} group by 1 order by 2 desc, 1")
        by_rule = {rule: count for rule, count in cursor.fetchall()}
        total = sum(by_rule.values())
        return {"rows": total, "rejected_rows": total, "rejected_rows_by_rule": by_rule}
