"""How the pipeline's cost grows with the data: N generated transactions over D days, loaded and built.

    python bench/scale.py --transactions 1000000 --days 10 [--seed 3] [--keep] [--no-dbt]

Needs a stack (`python -m devtools.stack up postgres s3proxy trino`; point LAKEHOUSE_ENV_FILE at a second stack
so the shared one is left alone). Everything goes to fresh buckets, a fresh raw schema and dbt schemas with their
own suffix; the schemas are dropped at the end unless --keep. In one script run it measures:
  generate      devtools.datagen writes D-1 days to the landing bucket (the last day is held back)
  download      baseline for the load: one GET of every landing object, bytes discarded
  load          `python -m include.ingestion load` (a full sweep) in its own process: seconds, rows/s, peak RSS
  full build    `dbt build` of the whole project on D-1 days: seconds, dbt's peak RSS
  incremental   the last day uploaded (timed), loaded (`--up-to` that day: seconds, peak RSS) and `dbt build`
                again: seconds, ratio to the full build (goal of issue 11: <= 0.1 at 10M)
  Trino         polled every 2 s during the builds: the largest peak memory reservation of any query this run made
                (`/v1/query`), the largest memory-pool reservation and heap in use (`/v1/status`), and the
                coordinator JVM's peak RSS (VmHWM)
  disk          bytes in the landing and quarantine buckets, and of the warehouse objects of the run's schemas
Prints each figure as it is measured, the machine's load average before and after, and at the end a
Markdown table of each figure beside its baseline from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from include.settings import get_settings, s3_client, trino_connection  # noqa: E402

DBT_DIR = REPO / "dbt" / "lakehouse"


class Measured(NamedTuple):
    seconds: float
    rss_kib: int  # the child's own peak RSS (its VmHWM), so each step's memory is its own
    cpu_s: float  # user + system CPU of the child: on a shared machine, steadier than wall time
    done: subprocess.CompletedProcess


def run_measured(cmd: list[str], env: dict) -> Measured:
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err, text=True)
        # Peak RSS read from the child while it runs: wait4's ru_maxrss also counts the pages the child shared
        # with this process before exec (at 10M every step reported this script's own 481 MiB).
        peak = [0]
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.5):
                peak[0] = max(peak[0], vm_hwm_kib(proc.pid) or 0)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
        return Measured(seconds, peak[0], usage.ru_utime + usage.ru_stime, done)


class TrinoPeak:
    """Polls the coordinator every 2 s: the largest peak memory reservation any query reached (`/v1/query`), and
    the node's largest memory-pool reservation (all running queries together) and heap in use (`/v1/status`)."""

    def __init__(self, settings):
        self.base = f"{settings.trino_http_scheme}://{settings.trino_host}:{settings.trino_port}/v1"
        self.query = self.pool = self.heap = self.pool_max = 0
        self.started = datetime.now(timezone.utc)  # an earlier run's queries stay listed for 15 min: not ours
        # query id -> (created, its CPU seconds last seen)
        self.cpu: dict[str, tuple[datetime, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _get(self, path: str):
        request = urllib.request.Request(f"{self.base}/{path}", headers={"X-Trino-User": "bench"})
        with urllib.request.urlopen(request, timeout=60) as resp:  # the query list is large on a busy coordinator
            return json.load(resp)

    def _poll(self) -> None:
        polls = 0
        while not self._stop.wait(2):
            polls += 1
            if polls % 30 == 0:  # a run cut short still shows the peaks it reached
                print(f"  ({time.strftime('%H:%M:%S')} Trino peaks so far: query {self.query >> 20} MiB, pool "
                      f"{self.pool >> 20} MiB, heap used {self.heap >> 20} MiB)", flush=True)
            try:
                for q in self._get("query"):
                    created = datetime.fromisoformat(q["queryStats"]["createTime"])
                    if created < self.started:
                        continue
                    self.query = max(self.query, _bytes(q["queryStats"].get("peakTotalMemoryReservation", "0B")))
                    self.cpu[q["queryId"]] = (created, _seconds(q["queryStats"].get("totalCpuTime", "0s")))
                status = self._get("status")
                pool = status["memoryInfo"]["pool"]
                self.pool, self.pool_max = max(self.pool, pool["reservedBytes"]), pool["maxBytes"]
                self.heap = max(self.heap, status["heapUsed"])
            except (OSError, KeyError, ValueError):
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _seconds(text: str) -> float:
    """An airlift Duration as Trino prints it: 12.34ms, 1.50s, 2.00m, 1.00h, 1.00d (ns, us too)."""
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = re.fullmatch(r"([0-9.]+)\s*([a-z]+)", text.strip()).groups()
    return float(number) * units[unit]


def _bytes(text: str) -> int:
    units = {"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text or 0))


def vm_hwm_kib(pid: int | str) -> int | None:
    """A process's peak RSS so far (VmHWM), or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)


def trino_rss_kib(settings) -> int | None:
    try:
        return vm_hwm_kib((settings.home / "run" / "trino.pid").read_text().strip())
    except OSError:
        return None


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
    print("\n".join(summary(rows)))
    return 0


def measure(args, settings, base, env, s3, tag: str) -> dict:
    r: dict = {}
    sink, last = generate(args, settings, s3, r)
    load_history(settings, env, s3, r)
    dbt = dbt_command(settings, tag)
    dbt_env = {**env, "DBT_TARGET_PATH": f"/tmp/scale-{tag}/target", "DBT_LOG_PATH": f"/tmp/scale-{tag}/logs"}
    with TrinoPeak(base) as peak:
        if args.dbt:
            build(r, "full_build", dbt, dbt_env, peak)
        load_day(sink, last, env, r)
        if args.dbt:
            build(r, "incremental_build", dbt, dbt_env, peak)
            note(r, incremental_over_full=round(r["incremental_build_s"] / r["full_build_s"], 3))
    if args.dbt:  # with --no-dbt the loader never touches Trino: its peaks would be other work's
        note(r, trino_heap=base.trino_heap, trino_peak_query_mib=peak.query >> 20, trino_peak_pool_mib=peak.pool >> 20,
             trino_pool_max_mib=peak.pool_max >> 20, trino_peak_heap_used_mib=peak.heap >> 20,
             trino_coordinator_peak_rss_mib=(trino_rss_kib(base) or 0) // 1024)
    note(r, landing_bytes=bucket_bytes(s3, settings.landing_bucket),
         quarantine_bytes=bucket_bytes(s3, settings.quarantine_bucket),
         warehouse_bytes=bucket_bytes(s3, settings.warehouse_bucket, tag))
    return r


def generate(args, settings, s3, r: dict) -> tuple[HoldBack, str]:
    """D days through devtools.datagen; the last day's files are held back for the incremental run."""
    from devtools.datagen import GeneratorConfig, write

    start = date.fromisoformat(args.start)
    last = (start + timedelta(days=args.days - 1)).isoformat()
    cfg = GeneratorConfig(start=start, days=args.days, transactions_per_day=args.transactions // args.days,
                          seed=args.seed, broken_files=False)
    sink = HoldBack(s3, settings.landing_bucket, last)
    t0 = time.perf_counter()
    write(cfg, sink, None)
    note(r, generate_s=round(time.perf_counter() - t0, 1))
    return sink, last


def load_history(settings, env, s3, r: dict) -> None:
    """Baseline first (one GET of every landing object), then the loader's full sweep in its own process."""
    download_s, history_bytes = download_all(s3, settings.landing_bucket)
    note(r, download_s=round(download_s, 1), history_landing_bytes=history_bytes)
    m = run_measured([sys.executable, "-m", "include.ingestion", "load", "--json"], env)
    _check(m.done, "load")
    report = json.loads(m.done.stdout)
    note(r, load_s=round(m.seconds, 1), load_cpu_s=round(m.cpu_s, 1), load_rows=report["rows_loaded"],
         load_rss_mib=m.rss_kib // 1024, load_rows_per_s=round(report["rows_loaded"] / m.seconds),
         load_costs=report.get("costs"))


def load_day(sink: HoldBack, last: str, env, r: dict) -> None:
    """The held-back day as its DAG run gets it: uploaded, then loaded with `--up-to` that day."""
    t0 = time.perf_counter()
    sink.release()
    note(r, day_upload_s=round(time.perf_counter() - t0, 1))
    m = run_measured([sys.executable, "-m", "include.ingestion", "load", "--json", "--up-to", last], env)
    _check(m.done, "day load")
    day = json.loads(m.done.stdout)
    note(r, day_rows=day["rows_loaded"], day_load_s=round(m.seconds, 1), day_load_cpu_s=round(m.cpu_s, 1),
         day_load_rss_mib=m.rss_kib // 1024, day_load_costs=day.get("costs"))


def dbt_command(settings, tag: str) -> list[str]:
    # No look-back: here the history is loaded minutes before the held-back day, so the default 24 h would make the
    # incremental build read all of it again. In production it re-reads one earlier day's load; this reads none.
    dbt_vars = {"raw_schema": settings.raw_schema, "schema_suffix": f"_scale_{tag}", "fact_lookback_hours": 0}
    # Unit tests are left to CI, as in the DAG's scheduled builds (include/pipeline/dbt.py's NO_UNIT_TESTS).
    return [str(Path(sys.executable).parent / "dbt"), "build", "--exclude-resource-type", "unit_test",
            "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--vars", json.dumps(dbt_vars)]


def build(r: dict, name: str, dbt: list[str], dbt_env: dict, peak: TrinoPeak) -> None:
    """`dbt build` in its own process; Trino's CPU is the sum over the queries created while it ran.

    By creation time, not by what was listed before: the queries of an earlier run stay listed for 15 min, and a
    first listing that came late (a 10 s timeout on a busy coordinator) once counted them in a 1M build (1,147.9
    CPU-s printed, 142.2 its own)."""
    started = datetime.now(timezone.utc)
    m = run_measured(dbt, dbt_env)
    ended = datetime.now(timezone.utc)
    time.sleep(3)  # one more poll: the last queries' final CPU
    _check(m.done, name.replace("_", " "))
    cpu = sum(seconds for created, seconds in peak.cpu.values() if started <= created <= ended)
    note(r, **{f"{name}_s": round(m.seconds, 1), f"{name}_rss_mib": m.rss_kib // 1024,
               f"{name}_trino_cpu_s": round(cpu, 1),
               f"{name}_load_average": _load()})


def summary(r: dict) -> list[str]:
    """Each figure beside its baseline from the same run, as Markdown rows (a figure not measured is left out)."""
    rows, g = ["| figure | value | baseline (same run) |", "|---|---:|---|"], r.get
    mib, per_m = 1 << 20, (g("load_rows") or 1) / 1e6

    def add(name: str, needs: str, value, baseline: str = "") -> None:
        if needs in r:
            rows.append(f"| {name} | {value} | {baseline} |")

    add("generate", "generate_s", f"{g('generate_s')} s", f"{g('history_landing_bytes', 0) / mib:.0f} MiB uploaded")
    add("load (full sweep)", "load_s", f"{g('load_s')} s ({g('load_cpu_s')} s CPU), {g('load_rows_per_s'):,} rows/s",
        f"GET of every landing object {g('download_s')} s")
    add("loader peak RSS", "load_rss_mib", f"{g('load_rss_mib')} MiB", f"day load {g('day_load_rss_mib')} MiB")
    add("full `dbt build`", "full_build_s", f"{g('full_build_s')} s, Trino CPU {g('full_build_trino_cpu_s')} s "
        f"({g('full_build_trino_cpu_s', 0) / per_m:.0f} s per M rows)", f"load {g('load_s')} s")
    add("held-back day: upload + load", "day_load_s", f"{g('day_upload_s')} s + {g('day_load_s')} s "
        f"({g('day_load_cpu_s')} s CPU, {g('day_rows'):,} rows)", f"full sweep {g('load_s')} s")
    add("incremental `dbt build`", "incremental_build_s", f"{g('incremental_build_s')} s, "
        f"{g('incremental_over_full')} × full; Trino CPU {g('incremental_build_trino_cpu_s')} s",
        f"full build {g('full_build_s')} s; goal ≤ 0.1")
    add("dbt peak RSS", "full_build_rss_mib", f"{g('full_build_rss_mib')} MiB",
        f"incremental {g('incremental_build_rss_mib')} MiB")
    add("Trino peak per query", "trino_peak_query_mib", f"{g('trino_peak_query_mib')} MiB",
        f"memory pool {g('trino_pool_max_mib')} MiB (heap {g('trino_heap')})")
    add("Trino peak pool / heap used / JVM RSS", "trino_peak_pool_mib", f"{g('trino_peak_pool_mib')} / "
        f"{g('trino_peak_heap_used_mib')} / {g('trino_coordinator_peak_rss_mib')} MiB", f"heap {g('trino_heap')}")
    add("disk: landing + quarantine", "landing_bytes", f"{(g('landing_bytes') + g('quarantine_bytes')) / mib:.0f} MiB",
        f"{g('landing_bytes') / per_m / mib:.0f} MiB per M raw rows")
    add("disk: warehouse (raw + dbt schemas)", "warehouse_bytes", f"{g('warehouse_bytes') / mib:.0f} MiB",
        f"{g('warehouse_bytes') / g('landing_bytes'):.2f} × landing; {g('warehouse_bytes') / (per_m * 1e6):.0f} "
        "bytes per raw row")
    return rows


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
