"""Loader throughput against a baseline of pyarrow alone, on the same files, in the same run.

    python bench/loader_throughput.py [--rows 1000000] [--files 10]

Writes N generated transaction rows as CSV files to a fresh landing bucket on the configured S3, then
  baseline: pyarrow reads each file from S3 and writes it back to S3 as Parquet (no catalog, no checks);
  loader:   `include.ingestion.loader.load` ingests the same files into a fresh raw Iceberg schema.
Prints rows/s for both and the ratio. The goal is a loader at no less than half the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from include.ingestion.contract import COLUMNS
from include.ingestion.loader import load
from include.settings import get_settings, s3_client


def make_csv(rows: int, seed: int) -> bytes:
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
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))
    return out.getvalue()


def s3_filesystem(settings) -> pafs.S3FileSystem:
    endpoint = settings.s3_endpoint_url
    return pafs.S3FileSystem(access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                             region=settings.s3_region, endpoint_override=endpoint or None,
                             scheme="http" if endpoint.startswith("http://") else "https")


def baseline(settings, keys: list[str]) -> float:
    fs = s3_filesystem(settings)
    start = time.perf_counter()
    for key in keys:
        with fs.open_input_stream(f"{settings.landing_bucket}/{key}") as stream:
            table = pacsv.read_csv(stream, convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in COLUMNS["transactions"]}))
        pq.write_table(table, f"{settings.landing_bucket}/_baseline/{key}.parquet", filesystem=fs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(get_settings(), landing_bucket=f"bench-landing-{tag}",
                                   quarantine_bucket=f"bench-quarantine-{tag}", raw_schema=f"bench_{tag}")
    client = s3_client(settings)
    for bucket in (settings.landing_bucket, settings.quarantine_bucket):
        client.create_bucket(Bucket=bucket)
    per_file = args.rows // args.files
    keys = []
    for i in range(args.files):
        key = f"transactions/dt=2026-11-20/part-{i:03d}.csv"
        client.put_object(Bucket=settings.landing_bucket, Key=key, Body=make_csv(per_file, i))
        keys.append(key)
    total = per_file * args.files
    print(f"{total} rows in {args.files} CSV files on {settings.s3_endpoint_url or 'AWS S3'}")

    base_s = baseline(settings, keys)
    start = time.perf_counter()
    report = load(settings, sources=["transactions"])
    load_s = time.perf_counter() - start
    assert report.rows_loaded == total, report.to_json()

    base_rate, load_rate = total / base_s, total / load_s
    print(f"baseline  pyarrow S3 CSV -> S3 Parquet : {base_s:7.2f} s  {base_rate:12,.0f} rows/s")
    print(f"loader    landing -> raw Iceberg       : {load_s:7.2f} s  {load_rate:12,.0f} rows/s")
    print(f"loader / baseline = {load_rate / base_rate:.2f} (goal >= 0.50)")


if __name__ == "__main__":
    main()
