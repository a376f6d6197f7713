"""A scheduled DAG run beside one `dbt build` of the same project, on the same stack and the same day's data.

    python bench/pipeline_runtime.py --day 2026-11-25 [--transactions-per-day 3000] [--seed 5] [--threads 1,2,4]

Needs the stack up (`python -m devtools.stack up`) and a landing day that was never loaded, nor the day before it,
so the run really ingests its files and alerts its anomalies. The day before is run first through the scheduler,
unmeasured, so that Trino, dbt's tables and Airflow are warm as on any day after the first. Then it measures:
  (b) one DAG run, made by the scheduler (a backfill of --day through the REST API v2): the day's landing files
      are uploaded except the transactions; once `wait_for_transactions` is deferred, the transactions files are
      uploaded (t0, the day's last landing file). (b) = the run's end - t0: sensor -> ingest -> dbt -> alerts.
  (c) latency from t0 until the run's anomaly alert reaches the local receiver (messages.jsonl).
  (a) one `dbt build` of the whole project on the same data and stack, with the DAG's dbt threads and, like the
      DAG's build, without the unit tests;
  (a2) the same `dbt build` after the next day's files are loaded with the loader's command line (`python -m
      include.ingestion load`): (b)'s dbt work, new rows to merge included, without Airflow; then, with
      --threads, one more `dbt build` per thread count to tune LAKEHOUSE_DBT_THREADS.
Prints each figure, the run's per-stage times, (b)/(a) against the goal of 1.3, the CPU seconds of the dbt
process and of the stack's Airflow processes during the run (load-independent, unlike the times), and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devtools.airflow_api import (  # noqa: E402
    AirflowApi,
    backfill_day,
    task_instances,
    unpause,
    wait_for_run,
    wait_for_task,
)
from devtools.stack.airflow import airflow_env  # noqa: E402
from include.pipeline.dbt import NO_UNIT_TESTS  # noqa: E402
from include.settings import get_settings, s3_client  # noqa: E402


def _ts(text: str | None) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else float("nan")


def generate(day: date, per_day: int, seed: int, out: Path) -> list[Path]:
    cmd = [sys.executable, "-m", "devtools.datagen", "--start", day.isoformat(), "--days", "1",
           "--transactions-per-day", str(per_day), "--seed", str(seed), "--output-dir", str(out),
           "--manifest", str(out / "manifest.json")]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return sorted(p for p in out.rglob("*") if p.is_file() and f"dt={day}" in p.as_posix())


def upload(settings, files: list[Path], root: Path) -> None:
    s3 = s3_client(settings)
    for path in files:
        s3.upload_file(str(path), settings.landing_bucket, path.relative_to(root).as_posix())


def refuse_loaded_day(settings, day: date) -> None:
    s3 = s3_client(settings)
    listed = s3.list_objects_v2(Bucket=settings.landing_bucket, Prefix=f"transactions/dt={day}/", MaxKeys=1)
    if listed.get("KeyCount"):
        raise SystemExit(f"landing day {day} already has transactions: pick a day the stack has never loaded")


def first_anomaly_alert(settings, run_id: str, since: int) -> float | None:
    """Receive time of the first anomaly message for `run_id` after byte `since` of messages.jsonl."""
    path = settings.home / "webhook" / "messages.jsonl"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as f:
        f.seek(since)
        for line in f:
            record = json.loads(line)
            text = json.dumps(record["payload"])
            # The run's digest counts anomalies too: it is not the alert.
            if "anomal" in text and run_id in text and not record["payload"].get("text", "").startswith("Run digest"):
                return _ts(record["received_at"])
    return None


def warm_up(settings, day: date, files: list[Path], root: Path) -> float:
    """Run the day before through the scheduler, unmeasured; returns its seconds.

    Without it (b) was a fresh stack's first run against (a)'s second: Trino compiling every query plan's code for
    the first time and dbt creating every table, where (a) found both done (3.15 measured that way, 2026-11-30).
    A day's run on a stack that has run before is what users wait for.
    """
    api = AirflowApi(settings)
    unpause(api)
    upload(settings, files, root)
    start = time.time()
    run = wait_for_run(api, backfill_day(api, day), timeout=3600)
    if run["state"] != "success":
        raise SystemExit(f"warm-up run {run['dag_run_id']} ended {run['state']}")
    return time.time() - start


def wait_until_no_run_is_active(api: AirflowApi, timeout: float = 900) -> None:
    """Unpausing makes the scheduler start the latest interval's run (catchup is off): a day without files here,
    whose sensors wait out their timeout. The measured run must not share the machine with it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api.get(f"/api/v2/dags/{api.dag_id}/dagRuns", limit=100, state=["queued", "running"])["dag_runs"]
        if not runs:
            return
        time.sleep(2)
    raise SystemExit(f"runs still active after {timeout:.0f} s")


def scheduled_run(settings, day: date, files: list[Path], root: Path) -> dict:
    api = AirflowApi(settings)
    wait_until_no_run_is_active(api)
    late = [p for p in files if p.relative_to(root).parts[0] == "transactions"]
    upload(settings, [p for p in files if p not in late], root)
    messages = settings.home / "webhook" / "messages.jsonl"
    since = messages.stat().st_size if messages.exists() else 0
    cpu0 = stack_cpu_seconds(settings)
    run_id = backfill_day(api, day)
    wait_for_task(api, run_id, "wait_for_transactions", {"deferred"})
    upload(settings, late, root)
    t0 = time.time()
    run = wait_for_run(api, run_id, timeout=3600)
    cpu1 = stack_cpu_seconds(settings)
    alert = None
    for _ in range(30):
        alert = first_anomaly_alert(settings, run_id, since)
        if alert:
            break
        time.sleep(1)
    return {"run": run, "t0": t0, "alert": alert, "tasks": {t["task_id"]: t for t in task_instances(api, run_id)},
            "cpu": {role: cpu1.get(role, 0.0) - cpu0.get(role, 0.0) for role in cpu1}}


def stack_cpu_seconds(settings) -> dict[str, float]:
    """CPU seconds used so far by this stack's Airflow processes by role, and by Trino (Linux /proc).

    A process is found by the pid file the stack wrote for it (`<home>/run/<service>.pid`), with its live descendants.
    A LocalExecutor worker's figure includes its finished task processes (reaped children), so the difference across
    a run is what the run's tasks cost, whatever else the machine was doing.
    """
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone
        # After the command name: ppid is field 2; utime, stime, cutime, cstime are 12-15.
        cpu[int(proc.name)] = sum(int(x) for x in fields[11:15]) / tick
        children.setdefault(int(fields[1]), []).append(int(proc.name))

    def tree(pid: int) -> float:
        return cpu.get(pid, 0.0) + sum(tree(child) for child in children.get(pid, []))

    totals: dict[str, float] = {}
    for role in ("api-server", "scheduler", "dag-processor", "triggerer"):
        pidfile = settings.home / "run" / f"airflow-{role}.pid"
        if pidfile.exists():
            totals[role] = tree(int(pidfile.read_text().split()[0]))
    trino = settings.home / "run" / "trino.pid"
    if trino.exists():
        totals["trino"] = tree(int(trino.read_text().split()[0]))
    return totals


def load_with_the_cli(settings, day: date, files: list[Path], root: Path) -> None:
    """Upload a day and load it with the loader's command line, outside Airflow (for a dbt build of new data)."""
    upload(settings, files, root)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "include.ingestion", "load", "--up-to", day.isoformat()], check=True,
                   cwd=REPO, env=env, capture_output=True)


def dbt_build(settings, threads: int) -> tuple[float, float]:
    """Wall and CPU seconds of one `dbt build` (the dbt process only: Trino's work is in neither figure's CPU)."""
    env = {**os.environ, **airflow_env(settings), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    cmd = [str(Path(sys.executable).parent / "dbt"), "build", *NO_UNIT_TESTS, "--project-dir",
           str(settings.dbt.project_dir), "--profiles-dir", str(settings.dbt.project_dir), "--threads", str(threads)]
    log = settings.home / "logs" / f"bench-dbt-build-{threads}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "w") as out:
        result = subprocess.run(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"dbt build --threads {threads} failed (exit {result.returncode}); log: {log}")
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def stages(result: dict) -> dict[str, float]:
    tasks, t0 = result["tasks"], result["t0"]
    end = lambda tid: _ts(tasks[tid]["end_date"])  # noqa: E731
    ingest_end = max(end(f"ingest_{s}") for s in ("assets", "clients", "transactions"))
    producer = tasks["dbt.dbt_producer_watcher"]
    return {
        "sensor sees the file": end("wait_for_transactions") - t0,
        "ingest (after sensor)": ingest_end - end("wait_for_transactions"),
        "dbt producer (dbt build)": _ts(producer["end_date"]) - _ts(producer["start_date"]),
        "after the producer": _ts(result["run"]["end_date"]) - _ts(producer["end_date"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--transactions-per-day", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--threads", default="", help="also time `dbt build` with these thread counts, e.g. 1,2,4")
    args = parser.parse_args()
    settings = get_settings()
    refuse_loaded_day(settings, args.day)
    before = args.day - timedelta(days=1)
    refuse_loaded_day(settings, before)
    with tempfile.TemporaryDirectory() as tmp:
        warm = warm_up(settings, before, generate(before, args.transactions_per_day, args.seed + 1, Path(tmp)),
                       Path(tmp))
        print(f"warm-up: the day before ({before}) through the scheduler, unmeasured: {warm:.1f} s", flush=True)
        files = generate(args.day, args.transactions_per_day, args.seed, Path(tmp))
        result = scheduled_run(settings, args.day, files, Path(tmp))
    if result["run"]["state"] != "success":
        raise SystemExit(f"run {result['run']['dag_run_id']} ended {result['run']['state']}")
    b = _ts(result["run"]["end_date"]) - result["t0"]
    c = (result["alert"] - result["t0"]) if result["alert"] else float("nan")
    trino0 = stack_cpu_seconds(settings).get("trino", 0.0)
    a, a_cpu = dbt_build(settings, settings.dbt.threads)
    a_trino = stack_cpu_seconds(settings).get("trino", 0.0) - trino0
    # (a) finds the day built already, so its incremental models have nothing new to merge. (a2) builds the next
    # day's rows, loaded by the loader's command line: the work of (b)'s build, without Airflow.
    after = args.day + timedelta(days=1)
    refuse_loaded_day(settings, after)
    with tempfile.TemporaryDirectory() as tmp:
        load_with_the_cli(settings, after, generate(after, args.transactions_per_day, args.seed + 2, Path(tmp)),
                          Path(tmp))
    trino0 = stack_cpu_seconds(settings).get("trino", 0.0)
    a2, a2_cpu = dbt_build(settings, settings.dbt.threads)
    a2_trino = stack_cpu_seconds(settings).get("trino", 0.0) - trino0
    print(f"day {args.day}, {args.transactions_per_day} transactions, run {result['run']['dag_run_id']}")
    print(f"(a) dbt build, {settings.dbt.threads} threads         : {a:7.1f} s")
    print(f"(a2) dbt build of the next day's rows : {a2:7.1f} s")
    print(f"(b) DAG run, last file -> run end     : {b:7.1f} s   (b)/(a) = {b / a:.2f} (goal <= 1.30), "
          f"(b)/(a2) = {b / a2:.2f}")
    for name, seconds in stages(result).items():
        print(f"      {name:<32}: {seconds:7.1f} s")
    run = result["run"]
    print(f"    whole run incl. waiting for file  : {_ts(run['end_date']) - _ts(run['start_date']):7.1f} s")
    print(f"(c) last file -> anomaly alert        : {c:7.1f} s")
    airflow = {k: v for k, v in result["cpu"].items() if k != "trino"}
    by_role = ", ".join(f"{k} {v:.1f}" for k, v in sorted(airflow.items()))
    b_trino = result["cpu"].get("trino", 0.0)
    print(f"CPU: (a) dbt process {a_cpu:.1f} s, Trino {a_trino:.1f} s; (a2) dbt process {a2_cpu:.1f} s, Trino "
          f"{a2_trino:.1f} s; (b) Trino {b_trino:.1f} s, Airflow {sum(airflow.values()):.1f} s ({by_role})")
    for threads in [int(t) for t in args.threads.split(",") if t.strip()]:
        print(f"    dbt build, {threads} thread(s)            : {dbt_build(settings, threads)[0]:7.1f} s")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
