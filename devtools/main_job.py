"""The main job: generate the last few complete days of landing data, backfill them through Airflow, report.

`python -m devtools.main_job [--days 3 --transactions-per-day 2000 --seed 42]`
Expects the stack to be up (`python -m devtools.stack up`); scripts/main.sh does both.

It drives Airflow as a user would, through the REST API v2: pause the DAG, create a backfill over the days (one
run per day, oldest first), unpause, and follow the runs the scheduler and triggerer execute. The days end with
yesterday, so after the backfill the DAG simply carries on with its daily schedule (today's run starts tonight).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from devtools.airflow_api import AirflowApi, AirflowApiError
from devtools.stack.airflow import airflow_env
from include.settings import REPO_ROOT, PipelineSettings, get_settings

FINISHED = ("success", "failed")
TASK_DONE = ("success", "skipped", "failed", "upstream_failed", "removed")
DAG_ID = PipelineSettings.dag_id  # fixed in the code, not read from the environment
RUNS = f"/api/v2/dags/{DAG_ID}/dagRuns"


def dag_env(settings) -> dict[str, str]:
    """The Airflow environment of the stack, for Airflow CLI calls (benchmarks)."""
    return {**os.environ, **airflow_env(settings)}


def last_complete_days(count: int, today: date | None = None) -> list[date]:
    today = today or datetime.now(timezone.utc).date()
    return [today - timedelta(days=offset) for offset in range(count, 0, -1)]


def generate(start: date, days: int, per_day: int, seed: int, *extra: str) -> None:
    cmd = [sys.executable, "-m", "devtools.datagen", "--start", start.isoformat(), "--days", str(days),
           "--transactions-per-day", str(per_day), "--seed", str(seed), *extra]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                   )


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def wait_for_dag(api: AirflowApi, timeout: float = 300) -> dict:
    """The DAG as the API knows it, once the dag-processor has parsed it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return api.get(f"/api/v2/dags/{DAG_ID}")
        except AirflowApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(2)


def backfill(api: AirflowApi, days: list[date], reprocess: str = "failed") -> dict | None:
    """Create one backfill over `days`, oldest first, one run at a time, and let the scheduler run it.

    Created while the DAG is paused, so the scheduler finds yesterday's run already there when the DAG is
    unpaused and moves on to tonight's interval instead of creating a second run for the same day (catchup=False).
    """
    api.patch(f"/api/v2/dags/{DAG_ID}", {"is_paused": True})
    body = {"dag_id": DAG_ID, "from_date": _midnight(days[0]), "to_date": _midnight(days[-1]),
            "max_active_runs": 1, "reprocess_behavior": reprocess, "run_backwards": False}
    try:
        created = api.post("/api/v2/backfills", body)
    except AirflowApiError as exc:
        if exc.status != 409:
            raise
        print(f"  a backfill is already running for {DAG_ID}; following its runs", flush=True)
        created = None
    api.patch(f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    return created


def runs_by_day(api: AirflowApi, days: list[date]) -> dict[date, list[dict]]:
    found = api.get(RUNS, logical_date_gte=_midnight(days[0]), logical_date_lte=_midnight(days[-1]),
                    order_by="run_after", limit=100)["dag_runs"]
    by_day: dict[date, list[dict]] = {day: [] for day in days}
    for run in found:
        by_day.setdefault(date.fromisoformat(run["logical_date"][:10]), []).append(run)
    return by_day


def task_states(api: AirflowApi, run_id: str) -> dict[str, str | None]:
    tis = api.get(f"{RUNS}/{run_id}/taskInstances", limit=100)["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def _progress(api: AirflowApi, day: date, run: dict | None, cache: dict) -> str:
    if run is None:
        return f"{day} no run yet"
    if run["dag_run_id"] not in cache:
        states = task_states(api, run["dag_run_id"])
        if run["state"] in FINISHED:
            cache[run["dag_run_id"]] = states
    else:
        states = cache[run["dag_run_id"]]
    done = sum(state in TASK_DONE for state in states.values())
    deferred = sum(state == "deferred" for state in states.values())
    return f"{day} {run['state']} {done}/{len(states)} tasks" + (f" ({deferred} deferred)" if deferred else "")


def wait_for_runs(api: AirflowApi, days: list[date], timeout: float = 3600, every: float = 3,
                  report_every: float = 15, on_poll: Callable[[dict[date, dict]], None] | None = None,
                  ) -> dict[date, dict]:
    """Follow the latest run of each day until every one has finished, on the runs' own states.

    A backfill's completed_at has been seen set while its runs were still going, so it is not what we wait on.
    """
    start = time.monotonic()
    last_report = -report_every
    cache: dict[str, dict] = {}
    while True:
        latest = {day: runs[-1] for day, runs in runs_by_day(api, days).items() if runs}
        if on_poll:
            on_poll(latest)
        elapsed = time.monotonic() - start
        finished = len(latest) == len(days) and all(r["state"] in FINISHED for r in latest.values())
        if finished or elapsed - last_report >= report_every:
            line = " | ".join(_progress(api, day, latest.get(day), cache) for day in days)
            print(f"  [{int(elapsed) // 60:>2}m{int(elapsed) % 60:02d}s] {line}", flush=True)
            last_report = elapsed
        if finished:
            return latest
        if elapsed > timeout:
            raise TimeoutError(f"runs not finished after {timeout:.0f} s: "
                               f"{ {str(d): r['state'] for d, r in latest.items()} }")
        time.sleep(every)


def duration(run: dict) -> str:
    if not run.get("start_date") or not run.get("end_date"):
        return "?"
    seconds = (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])).total_seconds()
    return f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


def summarise_runs(api: AirflowApi, days: list[date], latest: dict[date, dict]) -> list[tuple[str, str]]:
    """(day, state with duration and run id) per day; flags a day that ran more than once."""
    all_runs = runs_by_day(api, days)
    lines = []
    for day in days:
        run = latest[day]
        states = Counter(task_states(api, run["dag_run_id"]).values())
        tasks = ", ".join(f"{n} {state or 'not started'}" for state, n in states.most_common())
        note = f" — {len(all_runs[day])} runs for this day" if len(all_runs[day]) > 1 else ""
        lines.append((str(day), f"{run['state']} in {duration(run)}, tasks: {tasks} "
                                f"({run['run_type']} run {run['dag_run_id']}){note}"))
    return lines


def main(argv: list[str] | None = None) -> int:
    from devtools.report import render

    parser = argparse.ArgumentParser(prog="python -m devtools.main_job")
    parser.add_argument("--days", type=int, default=3, help="the last N complete days before today")
    parser.add_argument("--transactions-per-day", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the runs")
    args = parser.parse_args(argv)

    settings = get_settings()
    days = last_complete_days(args.days)
    print(f"Generating landing data for {days[0]} … {days[-1]} (seed {args.seed})", flush=True)
    generate(days[0], args.days, args.transactions_per_day, args.seed)
    api = AirflowApi(settings)
    wait_for_dag(api)
    started = time.monotonic()
    created = backfill(api, days)
    print(f"Backfill {created['id'] if created else '(existing)'} of {DAG_ID} over {days[0]} … {days[-1]}: "
          "runs executed by the scheduler, sensors deferred to the triggerer", flush=True)
    latest = wait_for_runs(api, days, timeout=args.timeout)
    runs = summarise_runs(api, days, latest)
    dag = api.get(f"/api/v2/dags/{DAG_ID}")
    # The report ends with each run's digest, as Slack got it (the local receiver's messages.jsonl).
    print(render(settings, dbt_results=settings.home / "dbt-results", runs=runs,
                 run_ids=[run["dag_run_id"] for run in latest.values()]))
    print(f"Backfill of {len(days)} day(s) took {time.monotonic() - started:.0f} s. "
          f"DAG {DAG_ID} is {'paused' if dag['is_paused'] else 'on'}; next scheduled run: "
          f"{dag['next_dagrun_logical_date']} (starts after {dag['next_dagrun_run_after']})")
    print(f"Airflow UI: http://localhost:{settings.airflow_port}/dags/{DAG_ID}")
    return 0 if all(run["state"] == "success" for run in latest.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
