"""Run the real DAG through Airflow's CLI against the local stack, and read back what happened."""

from __future__ import annotations

import json
import subprocess
from datetime import date

from include.main_job import dag_env
from include.pipeline.config import DAG_ID
from include.settings import REPO_ROOT, get_settings
from include.stack.airflow import airflow_bin

LAKEHOUSE_SCHEMAS = ("lakehouse", "staging", "marts", "analytics", "ops")


def airflow(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([airflow_bin(), *args], env=dag_env(get_settings()), cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _json_output(proc: subprocess.CompletedProcess):
    """The JSON document of an `-o json` command; Airflow may log warnings to stdout before it."""
    lines = proc.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("[", "{"))), None)
    if start is None:
        command = " ".join(proc.args[1:])
        raise AssertionError(f"no JSON in `airflow {command}`: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return json.loads("\n".join(lines[start:]))


def run_dag(day: date) -> subprocess.CompletedProcess:
    """`airflow dags test` for one landing day: the DAG, its sensors, dbt and alerts, for real."""
    return airflow("dags", "test", DAG_ID, day.isoformat())


def latest_run_id(day: date) -> str:
    runs = _json_output(airflow("dags", "list-runs", DAG_ID, "-o", "json"))
    runs = [r for r in runs if r["logical_date"].startswith(day.isoformat())]
    # `dags test` sets start_date to the logical date; run_after is when the run was really made.
    return sorted(runs, key=lambda r: r["run_after"])[-1]["run_id"]


def task_states(run_id: str) -> dict[str, str]:
    states = _json_output(airflow("tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "json"))
    return {t["task_id"]: t["state"] for t in states}


def wipe_lakehouse(settings, trino, s3) -> None:
    """Empty every table, bucket and alert file the pipeline writes, so a test starts from nothing."""
    for schema in LAKEHOUSE_SCHEMAS:
        trino.execute(f"select table_name, table_type from {settings.trino_catalog}.information_schema.tables "
                      f"where table_schema = '{schema}'")
        for table, kind in trino.fetchall():
            what = "view" if kind == "VIEW" else "table"
            trino.execute(f"drop {what} if exists {settings.trino_catalog}.{schema}.{table}")
            trino.fetchall()
    for bucket in (settings.landing_bucket, settings.quarantine_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
    (settings.home / "webhook" / "messages.jsonl").unlink(missing_ok=True)
