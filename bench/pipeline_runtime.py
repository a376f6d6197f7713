"""One pipeline run's wall time beside a single `dbt build` of the same project, on the same data and stack.

    python bench/pipeline_runtime.py --day 2026-11-20

Run after the main job (the landing data is loaded, so ingestion finds nothing new and the comparison is the
per-model orchestration). Measures, in this order:
  dbt build          one `dbt build` of the whole project (the baseline)
  DAG (dags test)    `airflow dags test` of the pipeline for --day: every model and test as its own task
Prints both and the overhead. The goal is an overhead of at most 30%.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from include.main_job import dag_env  # noqa: E402
from include.pipeline.config import DAG_ID, DBT_PROJECT_DIR  # noqa: E402
from include.settings import get_settings  # noqa: E402
from include.stack.airflow import airflow_bin  # noqa: E402


def timed(cmd: list[str], env: dict, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as out:
        result = subprocess.run(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed (exit {result.returncode}); log: {log}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--day", default="2026-11-20")
    args = parser.parse_args()
    settings = get_settings()
    env = {**os.environ, **dag_env(settings)}
    logs = settings.home / "logs"
    dbt = str(Path(sys.executable).parent / "dbt")
    build = timed([dbt, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
                  env, logs / "bench-dbt-build.log")
    dag = timed([airflow_bin(), "dags", "test", DAG_ID, args.day], env, logs / "bench-dags-test.log")
    print(f"dbt build (baseline)       : {build:7.1f} s")
    print(f"DAG run, one task per model: {dag:7.1f} s")
    print(f"orchestration overhead     : {(dag / build - 1) * 100:6.0f} % (goal <= 30 %)")


if __name__ == "__main__":
    main()
