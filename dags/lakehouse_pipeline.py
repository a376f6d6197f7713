"""
## Lakehouse pipeline

Each day's landing files for **assets**, **clients** and **transactions** are awaited by deferrable S3
sensors, loaded exactly once into the raw Iceberg tables `lakehouse.<source>`, and transformed by the
dbt project (one task per model, its tests right after it). New anomalies and rejected input are sent as
Slack alerts; any task that finally fails alerts too.

The run for logical date D reads landing partition `dt=D`. Transactions must arrive (or the run fails
and alerts); assets and clients may skip a day. Configuration: `include/settings.py` (`Settings.pipeline`).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, chain, dag, task, teardown
from airflow.timetables.interval import CronDataIntervalTimetable
from cosmos import DbtTaskGroup

from include.ingestion.contract import COLUMNS as SOURCES
from include.pipeline import tasks
from include.pipeline.assets import raw_table_asset
from include.pipeline.dbt import (
    OneNoticePerRun,
    attach_model_assets,
    execution_config,
    model_task,
    profile_config,
    project_config,
    render_config,
    tune_watchers,
)
from include.pipeline.dbt_docs import docs_task
from include.pipeline.defaults import default_args
from include.pipeline.sensors import landing_sensor
from include.settings import get_settings

# Read once per parse; each task reads its own when it runs.
settings = get_settings()


@dag(
    dag_id=settings.pipeline.dag_id,
    # Interval timetable: the run for day D starts when D is over, so its landing partition is complete.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=settings.pipeline.start_date,
    catchup=settings.pipeline.catchup,
    max_active_runs=1,
    default_args=default_args(settings),
    tags=["lakehouse", "ingestion", "dbt", "alerts"],
    doc_md=__doc__,
)
def lakehouse_pipeline():
    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def ingest(source: str, **context: Any) -> dict:
        """Load the source's new landing files into its raw Iceberg table; report rejected files."""
        return tasks.ingest_source(get_settings(), source, context["run_id"], context["ds"])

    summaries = []
    for source in SOURCES:
        summary = ingest.override(task_id=f"ingest_{source}", outlets=[raw_table_asset(settings, source)])(source)
        landing_sensor(settings, source) >> summary
        summaries.append(summary)

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(settings.dbt),
        profile_config=profile_config(settings),
        execution_config=execution_config(settings.dbt),
        render_config=render_config(),
        operator_args={"callback": "include.pipeline.dbt_results.save_run_results"},
    )

    @task
    def alert_anomalies(**context: Any) -> dict:
        """Slack-alert anomalies not alerted before, grouped by severity."""
        return tasks.alert_anomalies(get_settings(), context["dag"].dag_id, context["run_id"])

    @task
    def alert_rejects(**context: Any) -> dict:
        """Slack-alert quarantined files and batches of rejected rows not alerted before, from the ledgers."""
        return tasks.alert_rejects(get_settings(), context["dag"].dag_id, context["run_id"])

    # A teardown waits for every upstream task to be done, whatever its outcome (ALL_DONE: there is no setup), and
    # leaves the run's state to the tasks that did the work.
    @teardown
    def run_digest(**context: Any) -> dict:
        """Post the run's one Slack digest: files, rows, dbt tests, anomalies, tasks and the run's link."""
        digest = tasks.run_digest(get_settings(), context["dag"].dag_id, context["run_id"], context["ti"])
        OneNoticePerRun.forget(context["dag"].dag_id, context["dag_run"])
        return digest

    attach_model_assets(dbt, settings)
    tune_watchers(dbt, settings.dbt)

    chain(summaries, dbt)
    model_task(dbt, "transaction_anomaly_detection") >> alert_anomalies()
    [model_task(dbt, f"stg_{s}_rejected") for s in SOURCES] >> alert_rejects()
    dbt >> docs_task(settings)  # dbt docs for the UI (Browse); nothing waits on it
    # Keep last: the digest follows every task above, the alerts included.
    tasks.run_last(run_digest())


lakehouse_pipeline()
