"""The one client of Airflow's REST API v2, as the main job, the benchmarks and the end-to-end tests drive Airflow.

Every call carries a JWT from `POST /auth/token` (the settings' AIRFLOW_ADMIN_USER and AIRFLOW_ADMIN_PASSWORD). The
same call also answers while the stack runs in all-admins mode, so clients never depend on which mode is on.
Runs are made the way users make them: a backfill of one day makes the same run the schedule makes for that day
(its data interval, `ds`), and a backfill's runs are counted apart from the schedule's for max_active_runs, so a
scheduled run waiting on a late file never blocks it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timezone
from typing import Any

from include.settings import Settings, get_settings

FINISHED = {"success", "failed"}
# Asked again after a timeout or a dropped connection: a repeat of these changes nothing. A POST is repeated only
# when its connection was refused, so never sent (a repeated backfill request would be a second backfill).
IDEMPOTENT = {"GET", "PUT", "PATCH", "DELETE"}


class AirflowApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, detail: str):
        super().__init__(f"{method} {path}: HTTP {status}: {detail[:500]}")
        self.status = status


class AirflowApi:
    def __init__(self, settings: Settings | None = None, timeout: float = 60):
        self.settings = settings or get_settings()
        self.base = f"http://127.0.0.1:{self.settings.airflow_port}"
        self.timeout = timeout
        self._token: str | None = None

    @property
    def dag_id(self) -> str:
        return self.settings.pipeline.dag_id

    def token(self) -> str:
        user, password = self.settings.airflow_admin_user, self.settings.airflow_admin_password
        try:
            body = self._send("POST", "/auth/token", {"username": user, "password": password}, auth=False)
        except AirflowApiError as exc:
            if exc.status in (401, 403):
                raise AirflowApiError("POST", "/auth/token", exc.status,
                                      f"Airflow refused user {user!r}: check AIRFLOW_ADMIN_PASSWORD in .env and "
                                      "restart Airflow if it changed") from None
            raise
        return body["access_token"]

    def _send(self, method: str, path: str, body: Any = None, params: dict | None = None, auth: bool = True):
        url = self.base + path + (f"?{urllib.parse.urlencode(params, doseq=True)}" if params else "")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(method, path, exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None, attempts: int = 5):
        """One API call; a busy or restarting API server (timeouts, refused connections) is asked again."""
        for attempt in range(1, attempts + 1):
            try:
                return self._authorised(method, path, body, params)
            except (TimeoutError, ConnectionError, urllib.error.URLError) as exc:
                refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
                if attempt == attempts or not (method in IDEMPOTENT or refused):
                    raise
                # A 2-core machine running a DAG can keep the API server busy past a timeout.
                time.sleep(2 * attempt)
        raise AssertionError("unreachable")

    def _authorised(self, method: str, path: str, body: Any, params: dict | None):
        if self._token is None:
            self._token = self.token()
        try:
            return self._send(method, path, body, params)
        except AirflowApiError as exc:
            if exc.status != 401:
                raise
            # Expired token, or the stack restarted with a new signing key: log in again once.
            self._token = self.token()
            return self._send(method, path, body, params)

    def get(self, path: str, **params):
        return self.call("GET", path, params=params or None)

    def post(self, path: str, body: Any):
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any, **params):
        return self.call("PATCH", path, body, params or None)

    def delete(self, path: str):
        return self.call("DELETE", path)


def _quoted(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def unpause(api: AirflowApi, dag_id: str | None = None) -> None:
    api.patch(f"/api/v2/dags/{dag_id or api.dag_id}", {"is_paused": False})


def backfill_day(api: AirflowApi, day: date, dag_id: str | None = None) -> str:
    """Backfill one day as a new run; returns the run's id once the backfill has made it.

    An earlier run of the day is deleted first. Re-running it instead would start the WATCHER producer at try 2,
    which only marks itself skipped and restores the dbt results of that earlier try: models that no longer exist
    (a test wiped the lakehouse, say) would count as built.
    """
    dag_id = dag_id or api.dag_id
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).isoformat()
    runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100, logical_date_gte=start,
                   logical_date_lte=start)["dag_runs"]
    for run in runs:
        api.delete(f"/api/v2/dags/{dag_id}/dagRuns/{_quoted(run['dag_run_id'])}")
    # One backfill of a DAG at a time: the scheduler marks the last one complete a little after its runs end.
    for _ in range(120):
        if all(b["completed_at"] for b in api.get("/api/v2/backfills", dag_id=dag_id, limit=100)["backfills"]):
            break
        time.sleep(1)
    backfill = api.post("/api/v2/backfills", {"dag_id": dag_id, "from_date": start, "to_date": start,
                                              "reprocess_behavior": "completed", "max_active_runs": 1})
    for _ in range(60):
        runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100, order_by="-run_after")["dag_runs"]
        # A run does not name its backfill: the backfill's run is the one for the day queued after it was made.
        mine = [r for r in runs if r["run_type"] == "backfill" and r["logical_date"].startswith(day.isoformat())
                and r["queued_at"] >= backfill["created_at"]]
        if mine:
            return mine[0]["dag_run_id"]
        time.sleep(1)
    raise AssertionError(f"backfill {backfill['id']} made no run for {day}")


def run_state(api: AirflowApi, run_id: str, dag_id: str | None = None) -> dict:
    return api.get(f"/api/v2/dags/{dag_id or api.dag_id}/dagRuns/{_quoted(run_id)}")


def task_instances(api: AirflowApi, run_id: str, dag_id: str | None = None) -> list[dict]:
    return api.get(f"/api/v2/dags/{dag_id or api.dag_id}/dagRuns/{_quoted(run_id)}/taskInstances",
                   limit=500)["task_instances"]


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
