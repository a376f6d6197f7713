"""How the pipeline's cost grows with the data: N generated transactions over D days, loaded and built.

    python bench/scale.py --transactions 1000000 --days 10 [--seed 3] [--keep] [--no-dbt]

Needs a stack (`python -m devtools.stack up postgres s3proxy trino`; point LAKEHOUSE_ENV_FILE at a second stack
so the shared one is left alone). Everything goes to fresh buckets, a fresh raw schema and dbt schemas with their
own suffix; the schemas are dropped at the end unless --keep. In one script run it measures:
  generate      devtools.datagen writes D-1 days to the landing bucket (the last day is held back)
  download      baseline for the load: one GET of every landing object, bytes discarded
  load          `python -m include.ingestion load` (a full sweep) in its own process: seconds, rows/s, peak RSS
  full build    `dbt build` of the whole project on D-1 days: seconds, dbt's peak RSS
  incremental   the last day uploaded, loaded (`--up-to` that day) and `dbt build` again: seconds, ratio to the
                full build (goal of issue 11: <= 0.1 at 10M)
  Trino         the largest peak memory reservation of any query during the builds (REST /v1/query, polled) and
                the coordinator JVM's peak RSS (VmHWM)
  disk          bytes of landing objects, and of the warehouse objects of the run's schemas
Prints a table and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from include.settings import get_settings, s3_client, trino_connection  # noqa: E402

DBT_DIR = REPO / "dbt" / "lakehouse"


def run_measured(cmd: list[str], env: dict) -> tuple[float, int, subprocess.CompletedProcess]:
    """Seconds and the child's own peak RSS (KiB, from wait4), so each step's memory is its own."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return seconds, usage.ru_maxrss, subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


class TrinoPeak:
    """Polls the coordinator's query list; keeps the largest peak memory reservation any query reached."""

    def __init__(self, settings):
        self.url = f"{settings.trino_http_scheme}://{settings.trino_host}:{settings.trino_port}/v1/query"
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(2):
            try:
                request = urllib.request.Request(self.url, headers={"X-Trino-User": "bench"})
                with urllib.request.urlopen(request, timeout=10) as resp:
                    for q in json.load(resp):
                        self.peak = max(self.peak, _bytes(q["queryStats"].get("peakTotalMemoryReservation", "0B")))
            except OSError:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _bytes(text: str) -> int:
    units = {"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text or 0))


def trino_rss_kib(settings) -> int | None:
    pid_file = settings.home / "run" / "trino.pid"
    try:
        status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)


class HoldBack:
    """A datagen sink that uploads every delivery except those of the held-back day, kept for later."""

    def __init__(self, client, bucket: str, day: str):
        from devtools.datagen.writer import S3Sink

        self.sink, self.day, self.held = S3Sink(client, bucket), f"/dt={day}/", []

    def put(self, key: str, data: bytes) -> None:
        (self.held.append((key, data)) if self.day in key else self.sink.put(key, data))

    def release(self) -> None:
        for key, data in self.held:
            self.sink.put(key, data)

    def describe(self) -> str:
        return self.sink.describe()


def bucket_bytes(client, bucket: str, contains: str = "") -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        total += sum(o["Size"] for o in page.get("Contents", []) if contains in o["Key"])
    return total


def download_all(client, bucket: str) -> tuple[float, int]:
    started, total = time.perf_counter(), 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            for chunk in client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].iter_chunks(8 << 20):
                total += len(chunk)
    return time.perf_counter() - started, total


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = get_settings()
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANDING_BUCKET": f"landing-scale-{tag}",
           "QUARANTINE_BUCKET": f"quarantine-scale-{tag}", "RAW_SCHEMA": f"raw_scale_{tag}"}
    os.environ.update({k: env[k] for k in ("LANDING_BUCKET", "QUARANTINE_BUCKET", "RAW_SCHEMA")})
    settings = get_settings()
    s3 = s3_client(settings)
    for bucket in (settings.landing_bucket, settings.quarantine_bucket):
        s3.create_bucket(Bucket=bucket)
    print(f"run {tag}: {args.transactions:,} transactions over {args.days} days; load average {_load()}", flush=True)
    rows = {}
    try:
        rows = measure(args, settings, base, env, s3, tag)
    finally:
        if not args.keep:
            cleanup(settings, tag)
    print(f"load average at the end {_load()}")
    print(json.dumps(rows, indent=2))
    return 0


def measure(args, settings, base, env, s3, tag: str) -> dict:
    from devtools.datagen import GeneratorConfig, write

    start = date.fromisoformat(args.start)
    last = (start + timedelta(days=args.days - 1)).isoformat()
    cfg = GeneratorConfig(start=start, days=args.days, transactions_per_day=args.transactions // args.days,
                          seed=args.seed, broken_files=False)
    sink = HoldBack(s3, settings.landing_bucket, last)
    t0 = time.perf_counter()
    write(cfg, sink, None)
    r: dict = {}
    note(r, generate_s=round(time.perf_counter() - t0, 1))
    download_s, landing_bytes = download_all(s3, settings.landing_bucket)
    note(r, download_s=round(download_s, 1), landing_bytes=landing_bytes)
    load_s, load_rss, done = run_measured([sys.executable, "-m", "include.ingestion", "load", "--json"], env)
    _check(done, "load")
    report = json.loads(done.stdout)
    note(r, load_s=round(load_s, 1), load_rows=report["rows_loaded"], load_rss_mib=load_rss // 1024,
         load_rows_per_s=round(report["rows_loaded"] / load_s), load_costs=report.get("costs"))
    dbt = [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(DBT_DIR), "--profiles-dir",
           str(DBT_DIR), "--vars", json.dumps({"raw_schema": settings.raw_schema, "schema_suffix": f"_scale_{tag}"})]
    dbt_env = {**env, "DBT_TARGET_PATH": f"/tmp/scale-{tag}/target", "DBT_LOG_PATH": f"/tmp/scale-{tag}/logs"}
    with TrinoPeak(settings) as peak:
        if args.dbt:
            full_s, full_rss, done = run_measured(dbt, dbt_env)
            _check(done, "full dbt build")
            note(r, full_build_s=round(full_s, 1), full_build_rss_mib=full_rss // 1024, load_average=_load())
        sink.release()
        day_load_s, _, done = run_measured([sys.executable, "-m", "include.ingestion", "load", "--json",
                                            "--up-to", last], env)
        _check(done, "day load")
        day = json.loads(done.stdout)
        note(r, day_rows=day["rows_loaded"], day_load_s=round(day_load_s, 1), day_load_costs=day.get("costs"))
        if args.dbt:
            inc_s, inc_rss, done = run_measured(dbt, dbt_env)
            _check(done, "incremental dbt build")
            note(r, incremental_build_s=round(inc_s, 1), incremental_rss_mib=inc_rss // 1024,
                 incremental_over_full=round(inc_s / full_s, 3))
    note(r, trino_peak_query_memory_mib=peak.peak >> 20, trino_heap=base.trino_heap,
         trino_coordinator_peak_rss_mib=(trino_rss_kib(base) or 0) // 1024,
         warehouse_bytes=bucket_bytes(s3, settings.warehouse_bucket, tag))
    return r


def note(r: dict, **figures) -> None:
    """Record figures and print them at once: a run cut short still leaves what it measured."""
    r.update(figures)
    for name, value in figures.items():
        print(f"  {name:<32} {value}", flush=True)


def _check(done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cleanup(settings, tag: str) -> None:
    """Drop the run's schemas (the buckets stay: they go with the stack)."""
    cur = trino_connection(settings).cursor()
    cur.execute(f"show schemas from {settings.trino_catalog} like '%\\_scale\\_{tag}' escape '\\'")
    for (schema,) in [*cur.fetchall(), (settings.raw_schema,)]:
        cur.execute(f"drop schema if exists {settings.trino_catalog}.{schema} cascade")
        cur.fetchall()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--start", default="2026-08-01")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the buckets and schemas for inspection")
    parser.add_argument("--no-dbt", dest="dbt", action="store_false", help="generate and load only (no dbt builds)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
