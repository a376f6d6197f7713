"""Drive the real DAG through the stack's scheduler and triggerer (REST API v2), and read back what happened.

One backfill of generated days is shared by every test that needs DAG runs (the e2e and browser tests): it is
the expensive part of the suite, so `shared_backfill()` runs it once per test session.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from devtools.airflow_api import AirflowApi, AirflowApiError
from devtools.main_job import RUNS, backfill, generate, last_complete_days, task_states, wait_for_runs
from devtools.receiver import read_messages
from devtools.report import table_counts
from devtools.stack.airflow import LOCAL_SENSOR_SETTINGS
from include.pipeline.dbt_docs import fingerprint
from include.settings import PipelineSettings, get_settings, s3_client, trino_connection
from tests.integration.dbt_helpers import LAYERS

DAG_ID = PipelineSettings.dag_id  # a name fixed in the code, not a setting read from the environment
# Every dbt layer: a layer left out (intermediate was) keeps its incremental tables across a wipe, and the next build
# merges the old rows back into the fact.
LAKEHOUSE_SCHEMAS = ("lakehouse", *LAYERS, "ops")
# DAY1: every source. DAY2: no assets or clients (they may skip a day), and transactions arrive late, while the
# run's sensor is deferred. DAY3: only a zero-byte folder marker, which must not count as an arrival.
# The last is yesterday, so no scheduled run of the same day competes with the backfill.
DAY1, DAY2, DAY3 = last_complete_days(3)
DAYS = [DAY1, DAY2, DAY3]
MARKER = f"transactions/dt={DAY3}/"
_SHARED: dict = {}


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
    # The published dbt docs too: a run publishes them only when they are not current (include/pipeline/dbt_docs.py).
    for published in (settings.home / "dbt-docs").glob("*"):
        published.unlink()


def require_local_sensor_settings(api: AirflowApi) -> None:
    """Fail fast, not after hours, when the stack's Airflow runs with production sensor timeouts."""
    task = api.get(f"/api/v2/dags/{DAG_ID}/tasks/wait_for_transactions")
    retry = task["retry_delay"]
    seconds = retry["days"] * 86400 + retry["seconds"]
    expected = int(LOCAL_SENSOR_SETTINGS["LAKEHOUSE_RETRY_DELAY_SECONDS"])
    assert seconds == expected, (
        f"the stack's Airflow runs the DAG with retry_delay {seconds}s, not the local {expected}s: its processes "
        f"lack the local sensor settings {sorted(LOCAL_SENSOR_SETTINGS)}; restart the stack with them in airflow_env")


def delete_runs(api: AirflowApi, days: list[date]) -> None:
    """Forget earlier runs of these days, so the backfill runs each of them again from scratch.

    A session interrupted mid-backfill leaves a backfill open and runs going: cancel the one, fail the others (the
    API deletes only finished runs), wait for their digests, then delete.
    """
    for old in api.get("/api/v2/backfills", dag_id=DAG_ID, limit=100)["backfills"]:
        if not old["completed_at"]:
            api.call("PUT", f"/api/v2/backfills/{old['id']}/cancel")
    found = api.get(RUNS, logical_date_gte=f"{days[0]}T00:00:00Z", logical_date_lte=f"{days[-1]}T00:00:00Z",
                    limit=100)["dag_runs"]
    for run in found:
        path = f"{RUNS}/{run['dag_run_id']}"
        for attempt in range(5):
            if api.get(path)["state"] in ("success", "failed"):
                break
            try:
                api.patch(path, {"state": "failed"})
            except AirflowApiError as exc:  # the scheduler may hold the row: try again shortly
                if exc.status != 500 or attempt == 4:
                    raise
                time.sleep(3)
        # A run marked failed still runs its teardown (the run digest) and ends only then.
        deadline = time.monotonic() + 600
        while api.get(path)["state"] not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(3)
        api.delete(path)


def clear_tasks(api: AirflowApi, run_id: str, task_ids: list[str]) -> None:
    """What "Clear" on a finished task in the UI does: the scheduler runs the tasks again in the same run."""
    api.post(f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
             {"dry_run": False, "dag_run_id": run_id, "task_ids": task_ids, "only_failed": False,
              "include_downstream": False, "reset_dag_runs": True})


def rerun_tasks(states: dict[str, str]) -> list[str]:
    """The tasks of a run that write data or send alerts: ingestion, the incremental fact, the alerts, the digest."""
    fact = [t for t in states if "fact_transactions" in t and t.endswith("run")]
    return [t for t in states if t.startswith(("ingest_", "alert_")) or t == "run_digest"] + fact[:1]


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


class LateArrival:
    """Watches the runs while they go: once DAY2's transactions sensor is deferred, uploads the withheld files."""

    def __init__(self, api: AirflowApi, s3, withheld: dict[str, bytes]):
        self.api, self.s3, self.withheld = api, s3, withheld
        self.seen: dict[str, list[str]] = {"day2": [], "day3": []}
        self.uploaded_at: float | None = None

    def __call__(self, latest: dict) -> None:
        for name, day in (("day2", DAY2), ("day3", DAY3)):
            run = latest.get(day)
            if run and run["state"] == "running":
                state = task_states(self.api, run["dag_run_id"]).get("wait_for_transactions")
                if not self.seen[name] or self.seen[name][-1] != state:
                    self.seen[name].append(state)
        if self.uploaded_at is None and "deferred" in self.seen["day2"]:
            for key, body in self.withheld.items():
                self.s3.put_object(Bucket=self.api.settings.landing_bucket, Key=key, Body=body)
            self.uploaded_at = time.monotonic()


def _prepare_landing(settings, s3, workdir: Path) -> tuple[dict, dict[str, bytes]]:
    manifest, bucket = workdir / "manifest.json", settings.landing_bucket
    generate(DAY1, 2, 1500, 7, "--manifest", str(manifest))
    for source in ("assets", "clients"):
        for key in _keys(s3, bucket, f"{source}/dt={DAY2}/"):
            s3.delete_object(Bucket=bucket, Key=key)
    withheld = {}
    for key in _keys(s3, bucket, f"transactions/dt={DAY2}/"):
        withheld[key] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.delete_object(Bucket=bucket, Key=key)
    s3.put_object(Bucket=bucket, Key=MARKER, Body=b"")
    return json.loads(manifest.read_text()), withheld


def _snapshot(api: AirflowApi, settings, latest: dict) -> dict:
    return {"states": {day: task_states(api, run["dag_run_id"]) for day, run in latest.items()},
            "runs": latest, "counts": table_counts(settings), "alerts": read_messages(settings)}


def shared_backfill(workdir: Path) -> dict:
    """Generate the days, backfill them through the scheduler, then clear DAY1's writing tasks and let them rerun."""
    if _SHARED:
        return _SHARED
    settings = get_settings()
    api, s3 = AirflowApi(settings), s3_client(settings)
    require_local_sensor_settings(api)
    wipe_lakehouse(settings, trino_connection(settings).cursor(), s3)
    manifest, withheld = _prepare_landing(settings, s3, workdir)
    delete_runs(api, DAYS)
    started = time.monotonic()
    backfill(api, DAYS, reprocess="completed")
    late = LateArrival(api, s3, withheld)
    latest = wait_for_runs(api, DAYS, timeout=5400, on_poll=late)
    first = _snapshot(api, settings, latest)
    first["seconds"] = time.monotonic() - started
    cleared = rerun_tasks(first["states"][DAY1])
    clear_tasks(api, latest[DAY1]["dag_run_id"], cleared)
    again = wait_for_runs(api, [DAY1], timeout=1200)
    _SHARED.update(manifest=manifest, first=first, late=late, cleared=cleared, again=_snapshot(api, settings, again),
                   docs_fingerprint=fingerprint(settings, trino_connection(settings).cursor()))
    return _SHARED
