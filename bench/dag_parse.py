"""DAG parse time of the pipeline DAG beside a trivial one-task DAG, cold and warm.

    python bench/dag_parse.py [--repeat 5]

cold: a fresh interpreter that has already imported Airflow (as a dag-processor fork sees it) executes the file.
warm: the same file executed again in a process that has imported its modules (Airflow's pre-import).
Prints the median of --repeat measurements of wall time and of the process's CPU time; on a busy machine the CPU
time is what a quiet machine's wall time would be. Goals for the pipeline DAG: cold <= 1 s, warm <= 0.1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = {"pipeline DAG": REPO / "dags" / "lakehouse_pipeline.py", "trivial DAG": REPO / "bench" / "trivial_dag.py"}

PROBE = r"""
import importlib.util, sys, time
# What a dag-processor has imported before it forks a parser for one file.
import airflow, airflow.sdk, airflow.dag_processing.processor

def execute(path, n):
    spec = importlib.util.spec_from_file_location(f"bench_dag_{n}", path)
    module = importlib.util.module_from_spec(spec)
    start, cpu = time.perf_counter(), time.process_time()
    spec.loader.exec_module(module)
    return time.perf_counter() - start, time.process_time() - cpu

path = sys.argv[1]
cold = execute(path, 0)
warm = sorted(execute(path, n) for n in range(1, 6))[2]
print(f"{cold[0]} {warm[0]} {cold[1]} {warm[1]}")
"""


def measure(path: Path, env: dict) -> list[float]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=env, cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    return [float(x) for x in out[-4:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from devtools.stack.airflow import airflow_env
    from include.settings import get_settings

    env = {**os.environ, **airflow_env(get_settings())}
    print(f"{'':<14}{'cold (s)':>10}{'warm (s)':>10}{'cold CPU':>10}{'warm CPU':>10}   median of {args.repeat}")
    for label, path in FILES.items():
        runs = [measure(path, env) for _ in range(args.repeat)]
        print(f"{label:<14}" + "".join(f"{statistics.median(r[i] for r in runs):>10.3f}" for i in range(4)))
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
