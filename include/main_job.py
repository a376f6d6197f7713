"""The main job: generate a few days of landing data, run the DAG for each day through Airflow, report.

`python -m include.main_job [--start 2026-11-20 --days 3 --transactions-per-day 2000 --seed 42]`
Expects the stack to be up (`python -m include.stack up`); scripts/main.sh does both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date, timedelta

from include.pipeline.config import DAG_ID
from include.settings import REPO_ROOT, get_settings
from include.stack.airflow import airflow_bin, airflow_env

# Locally a missing optional source should cost seconds, not the production half hour.
FAST_SENSORS = {
    "LAKEHOUSE_OPTIONAL_SOURCE_TIMEOUT_SECONDS": "20",
    "LAKEHOUSE_TRANSACTIONS_TIMEOUT_SECONDS": "60",
    "LAKEHOUSE_POKE_INTERVAL_SECONDS": "5",
    "LAKEHOUSE_RETRY_DELAY_SECONDS": "5",
    "LAKEHOUSE_SENSOR_DEFERRABLE": "false",
}


def dag_env(settings) -> dict[str, str]:
    return {**os.environ, **airflow_env(settings), **FAST_SENSORS,
            "LAKEHOUSE_DBT_RESULTS_DIR": str(settings.home / "dbt-results")}


def run_day(day: date, env: dict[str, str]) -> str:
    """Run the DAG for one landing day with `airflow dags test`; its log goes to .lakehouse/logs."""
    settings = get_settings()
    log = settings.home / "logs" / f"dags-test-{day.isoformat()}.log"
    with open(log, "w") as out:
        result = subprocess.run([airflow_bin(), "dags", "test", DAG_ID, day.isoformat()], env=env, cwd=REPO_ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    state = "success" if result.returncode == 0 else f"failed (exit {result.returncode}, log: {log})"
    print(f"  {day}: {state}", flush=True)
    return state


def generate(start: date, days: int, per_day: int, seed: int) -> None:
    cmd = [sys.executable, "-m", "include.datagen", "--start", start.isoformat(), "--days", str(days),
           "--transactions-per-day", str(per_day), "--seed", str(seed)]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def main(argv: list[str] | None = None) -> int:
    from include.report import render

    parser = argparse.ArgumentParser(prog="python -m include.main_job")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--transactions-per-day", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    settings = get_settings()
    print(f"Generating {args.days} day(s) of landing data from {args.start} (seed {args.seed})", flush=True)
    generate(args.start, args.days, args.transactions_per_day, args.seed)
    env = dag_env(settings)
    print(f"Running DAG {DAG_ID} for each day through Airflow (`airflow dags test`):", flush=True)
    runs = []
    for offset in range(args.days):
        day = args.start + timedelta(days=offset)
        runs.append((day, run_day(day, env)))
    print(render(settings, dbt_results=settings.home / "dbt-results", runs=runs))
    print(f"Airflow UI: http://localhost:{settings.airflow_port} (DAG {DAG_ID})")
    return 0 if all(state == "success" for _, state in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
