"""Loader throughput and peak memory beside a pyarrow baseline, on the same file, in the same run.

    python bench/loader_throughput.py [--csv-gib 2] [--bomb-gib 2] [--bomb-limit-gib 0.5]

Uploads to fresh buckets on the configured S3 one CSV of about --csv-gib GiB of generated transactions and a gzip
bomb (a few MB that inflate to --bomb-gib GiB of rows). Then, each in its own process, its peak RSS (VmHWM) recorded
as it exits:
  baseline  pyarrow streams the CSV from S3 and writes it back to S3 as zstd Parquet (no catalog, no checks);
  loader    `python -m include.ingestion load` ingests the CSV into a fresh raw Iceberg schema;
  bomb      the loader on the bomb with LAKEHOUSE_MAX_FILE_BYTES = --bomb-limit-gib: quarantined as too_large.
Goals: the loader peaks at <= 1 GiB RSS on both inputs, at >= 0.5x the baseline's throughput.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from include.ingestion.contract import COLUMNS
from include.settings import REPO_ROOT, get_settings, s3_client

GIB = 1 << 30
CSV_KEY = "transactions/dt=2026-11-20/big.csv"
BOMB_KEY = "transactions/dt=2026-11-20/bomb.csv.gz"


def make_csv(rows: int, seed: int, header: bool) -> bytes:
    rng = np.random.default_rng(seed)
    qty = rng.integers(1, 500, rows)
    price = np.round(rng.uniform(1, 900, rows), 2)
    ts = np.datetime64("2026-11-20T00:00:00") + rng.integers(0, 86400, rows).astype("timedelta64[s]")
    cols = {
        "transaction_id": [f"T{seed:03d}{i:09d}" for i in range(rows)],
        "client_id": [f"C{c:06d}" for c in rng.integers(1, 5000, rows)],
        "asset_id": [f"A{a:04d}" for a in rng.integers(1, 400, rows)],
        "transaction_type": rng.choice(["buy", "sell"], rows),
        "quantity": qty.astype(str),
        "price": price.astype(str),
        "amount": np.round(qty * price, 2).astype(str),
        "fee": np.round(rng.uniform(0, 10, rows), 2).astype(str),
        "currency": rng.choice(["USD", "EUR", "GBP"], rows),
        "executed_at": np.datetime_as_string(ts, unit="s"),
        "channel": rng.choice(["web", "mobile", "advisor", "api"], rows),
        "status": rng.choice(["settled", "pending"], rows, p=[0.9, 0.1]),
        "updated_at": np.datetime_as_string(ts, unit="s"),
    }
    table = pa.table({c: pa.array(list(cols[c]), pa.string()) for c in COLUMNS["transactions"]})
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed", include_header=header))
    return out.getvalue()


def write_big_csv(path: Path, size: int) -> int:
    """Header plus four distinct generated chunks, cycled until `size` bytes; returns the data rows written."""
    chunk_rows = 200_000
    chunks = [make_csv(chunk_rows, seed, header=False) for seed in range(1, 5)]
    written = rows = 0
    with path.open("wb") as out:
        out.write(make_csv(1, 0, header=True).split(b"\n", 1)[0] + b"\n")
        while written < size:
            body = chunks[(rows // chunk_rows) % len(chunks)]
            out.write(body)
            written, rows = written + len(body), rows + chunk_rows
    return rows


def write_bomb(path: Path, size: int) -> None:
    """One valid row repeated: deflate shrinks it about a thousandfold."""
    header, row = make_csv(1, 0, header=True).split(b"\n", 1)
    block = row * ((8 << 20) // len(row))
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(gz.compress(header + b"\n"))
        for _ in range(size // len(block)):
            out.write(gz.compress(block))
        out.write(gz.flush())


def s3_filesystem(settings) -> pafs.S3FileSystem:
    endpoint = settings.s3_endpoint_url
    return pafs.S3FileSystem(access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                             region=settings.s3_region, endpoint_override=endpoint or None,
                             scheme="http" if endpoint.startswith("http://") else "https")


def baseline_child(source: str, target: str) -> None:
    """Stream CSV -> Parquet with pyarrow alone, in bounded memory like the loader; print the row count."""
    fs = s3_filesystem(get_settings())
    rows = 0
    with fs.open_input_stream(source) as stream:
        reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=16 << 20),
                                convert_options=pacsv.ConvertOptions(
                                    column_types={c: pa.string() for c in COLUMNS["transactions"]}))
        with pq.ParquetWriter(target, reader.schema, filesystem=fs, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
    print(json.dumps({"rows_loaded": rows}))


# Peak RSS is the child's own VmHWM at exit: wait4's ru_maxrss would also count the parent's RSS at fork time.
_PEAK = """
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(_peak)
sys.argv = sys.argv[1:]
if sys.argv[0] == "-m":
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


def measure(cmd: list[str], env: dict[str, str]) -> dict:
    """Run `python <cmd>`; return its wall time, its peak RSS and its JSON output."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out_path, peak_path = Path(tmp) / "out", Path(tmp) / "peak"
        start = time.perf_counter()
        with out_path.open("wb") as out:
            proc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], cwd=REPO_ROOT, stdout=out, env={
                **os.environ, "PYTHONPATH": str(REPO_ROOT), "BENCH_PEAK_FILE": str(peak_path), **env})
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed with exit code {proc.returncode}")
        return {"seconds": seconds, "peak_rss_mib": int(peak_path.read_text()) / 1024,
                "report": json.loads(out_path.read_text())}


def out_bucket(settings) -> str:
    """The baseline's output: not the landing bucket, where the loader would take it for a delivery."""
    return settings.landing_bucket.replace("landing", "out")


def setup(args, settings, client) -> int:
    for bucket in (settings.landing_bucket, settings.quarantine_bucket, out_bucket(settings)):
        client.create_bucket(Bucket=bucket)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        csv_path, bomb_path = Path(tmp) / "big.csv", Path(tmp) / "bomb.csv.gz"
        rows = write_big_csv(csv_path, int(args.csv_gib * GIB))
        write_bomb(bomb_path, int(args.bomb_gib * GIB))
        client.upload_file(str(csv_path), settings.landing_bucket, CSV_KEY)
        client.upload_file(str(bomb_path), settings.quarantine_bucket, "bomb.csv.gz")  # held back for the last run
        print(f"CSV {csv_path.stat().st_size / GIB:.2f} GiB, {rows:,} rows; gzip bomb {bomb_path.stat().st_size:,} "
              f"bytes inflating to {args.bomb_gib:.2f} GiB")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv-gib", type=float, default=2.0)
    parser.add_argument("--bomb-gib", type=float, default=2.0)
    parser.add_argument("--bomb-limit-gib", type=float, default=0.5)
    parser.add_argument("--baseline-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        return baseline_child(*args.baseline_child)

    tag = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(get_settings(), landing_bucket=f"bench-landing-{tag}",
                                   quarantine_bucket=f"bench-quarantine-{tag}", raw_schema=f"bench_{tag}")
    client = s3_client(settings)
    rows = setup(args, settings, client)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")

    script = str(Path(__file__).resolve())
    base = measure([script, "--baseline-child", f"{settings.landing_bucket}/{CSV_KEY}",
                    f"{out_bucket(settings)}/baseline.parquet"], {})
    env = {"LANDING_BUCKET": settings.landing_bucket, "QUARANTINE_BUCKET": settings.quarantine_bucket,
           "RAW_SCHEMA": settings.raw_schema}
    loader_cmd = ["-m", "include.ingestion", "load", "--source", "transactions", "--json"]
    loaded = measure(loader_cmd, env)
    assert base["report"]["rows_loaded"] == loaded["report"]["rows_loaded"] == rows, (base, loaded, rows)

    client.copy({"Bucket": settings.quarantine_bucket, "Key": "bomb.csv.gz"}, settings.landing_bucket, BOMB_KEY)
    bomb = measure(loader_cmd, {**env, "LAKEHOUSE_MAX_FILE_BYTES": str(int(args.bomb_limit_gib * GIB))})
    fates = {f["key"]: (f["status"], f["code"]) for f in bomb["report"]["files"]}
    assert fates[BOMB_KEY] == ("quarantined", "too_large"), fates

    size = args.csv_gib * 1024
    runs = (("baseline  pyarrow S3 CSV -> S3 Parquet", base), ("loader    landing -> raw Iceberg      ", loaded))
    for name, run in runs:
        print(f"{name} : {run['seconds']:7.1f} s  {size / run['seconds']:7.1f} MiB/s  "
              f"{rows / run['seconds']:11,.0f} rows/s  peak RSS {run['peak_rss_mib']:6.0f} MiB")
    print(f"loader    gzip bomb -> too_large       : {bomb['seconds']:7.1f} s  "
          f"peak RSS {bomb['peak_rss_mib']:6.0f} MiB")
    print(f"loader / baseline = {base['seconds'] / loaded['seconds']:.2f} (goal >= 0.50); "
          f"peak RSS goal <= 1024 MiB")


if __name__ == "__main__":
    main()
