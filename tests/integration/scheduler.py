"""Runs of the pipeline DAG made the way users make them: through Airflow's REST API v2, run by the scheduler.

A backfill of one day makes the same run the schedule makes for that day (its data interval, `ds`), and a
backfill's runs are counted apart from the schedule's for max_active_runs, so a scheduled run waiting on a late
file never blocks it. Shared by the WATCHER retry test and bench/pipeline_runtime.py.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timezone

from include.pipeline.config import DAG_ID
from include.settings import Settings

FINISHED = {"success", "failed"}


class AirflowApi:
    """A small client of Airflow's REST API v2 with the JWT that `POST /auth/token` hands out."""

    def __init__(self, settings: Settings):
        self.base = f"http://127.0.0.1:{settings.airflow_port}"
        self._token: str | None = None

    def token(self) -> str:
        # SimpleAuthManager: a named admin whose password is in .env, or everyone-is-admin (any credentials).
        body = {"username": "admin", "password": os.environ.get("AIRFLOW_ADMIN_PASSWORD", "admin")}
        self._token = self._send("POST", "/auth/token", body, auth=False)["access_token"]
        return self._token

    def _send(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        if auth:
            request.add_header("Authorization", f"Bearer {self._token or self.token()}")
        for attempt in range(5):
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:
                    raw = resp.read()
                return json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from None
            except (TimeoutError, urllib.error.URLError, ConnectionError):
                # A 2-core machine running a DAG can keep the API server busy past a timeout: ask again.
                if attempt == 4 or method != "GET":
                    raise
                time.sleep(2)

    def get(self, path: str):
        return self._send("GET", path)

    def post(self, path: str, body: dict):
        return self._send("POST", path, body)

    def patch(self, path: str, body: dict):
        return self._send("PATCH", path, body)

    def delete(self, path: str):
        return self._send("DELETE", path)


def unpause(api: AirflowApi, dag_id: str = DAG_ID) -> None:
    api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})


def backfill_day(api: AirflowApi, day: date, dag_id: str = DAG_ID) -> str:
    """Backfill one day as a new run; returns the run's id once the backfill has made it.

    An earlier run of the day is deleted first. Re-running it instead would start the WATCHER producer at try 2,
    which only marks itself skipped and restores the dbt results of that earlier try: models that no longer exist
    (a test wiped the lakehouse, say) would count as built.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).isoformat()
    runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&logical_date_gte={urllib.request.quote(start)}"
                   f"&logical_date_lte={urllib.request.quote(start)}")["dag_runs"]
    for run in runs:
        api.delete(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run['dag_run_id'], safe='')}")
    # One backfill of a DAG at a time: the scheduler marks the last one complete a little after its runs end.
    for _ in range(120):
        if all(b["completed_at"] for b in api.get(f"/api/v2/backfills?dag_id={dag_id}&limit=100")["backfills"]):
            break
        time.sleep(1)
    backfill = api.post("/api/v2/backfills", {"dag_id": dag_id, "from_date": start, "to_date": start,
                                              "reprocess_behavior": "completed", "max_active_runs": 1})
    for _ in range(60):
        runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=-run_after")["dag_runs"]
        # A run does not name its backfill: the backfill's run is the one for the day queued after it was made.
        mine = [r for r in runs if r["run_type"] == "backfill" and r["logical_date"].startswith(day.isoformat())
                and r["queued_at"] >= backfill["created_at"]]
        if mine:
            return mine[0]["dag_run_id"]
        time.sleep(1)
    raise AssertionError(f"backfill {backfill['id']} made no run for {day}")


def run_state(api: AirflowApi, run_id: str, dag_id: str = DAG_ID) -> dict:
    return api.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}")


def task_instances(api: AirflowApi, run_id: str, dag_id: str = DAG_ID) -> list[dict]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}/taskInstances?limit=500"
    return api.get(path)["task_instances"]


def wait_for_task(api: AirflowApi, run_id: str, task_id: str, states: set[str], timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ti = next((t for t in task_instances(api, run_id) if t["task_id"] == task_id), None)
        if ti and ti["state"] in states:
            return ti
        time.sleep(0.5)
    raise AssertionError(f"{task_id} of {run_id} not in {states} after {timeout:.0f} s")


def wait_for_run(api: AirflowApi, run_id: str, timeout: float = 900, progress=None) -> dict:
    """Poll the run's own state until it is finished; `progress(run, tasks)` is called on every change."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        run = run_state(api, run_id)
        if progress:
            tis = task_instances(api, run_id)
            summary = (run["state"], sorted((t["task_id"], t["state"]) for t in tis))
            if summary != last:
                progress(run, tis)
                last = summary
        if run["state"] in FINISHED:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} not finished after {timeout:.0f} s")
