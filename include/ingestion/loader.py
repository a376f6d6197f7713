"""Load every landing file not yet loaded into its raw Iceberg table: atomically, exactly once, race-safe.

A file is identified by its S3 key and ETag. Its rows and the record that it was loaded are one Iceberg
commit (the snapshot summary carries the key and ETag), so a crash leaves either both or neither. Two
loaders racing on the same file both try to commit; the loser's commit fails on Iceberg's optimistic
check, it re-reads the table, sees the file recorded and skips it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

from include.ingestion.contract import COLUMNS, LayoutError, parse_key
from include.ingestion.raw_tables import (
    SUMMARY_BATCH,
    SUMMARY_ETAG,
    SUMMARY_FILE,
    SUMMARY_ROWS,
    add_extra_columns,
    catalog,
    conform,
    ensure_table,
    loaded_files,
)
from include.ingestion.readers import FileRejected, read_landing_file
from include.settings import Settings, get_settings, s3_client

log = logging.getLogger(__name__)
COMMIT_ATTEMPTS = 8


@dataclass
class FileResult:
    key: str
    etag: str
    source: str | None
    status: str  # loaded | skipped | rejected
    rows: int = 0
    reason: str | None = None
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    batch_id: str
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows for f in self.files if f.status == "loaded")

    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    def to_json(self) -> str:
        return json.dumps({"batch_id": self.batch_id, "files": [asdict(f) for f in self.files],
                           "loaded": self.count("loaded"), "skipped": self.count("skipped"),
                           "rejected": self.count("rejected"), "rows_loaded": self.rows_loaded}, indent=2)


def list_landing(client, bucket: str, prefix: str = "") -> list[dict]:
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += [o for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    return sorted(objects, key=lambda o: o["Key"])


def quarantine_key(key: str, etag: str) -> str:
    return f"{key}.{etag}"


def load(settings: Settings | None = None, sources: list[str] | None = None, batch_id: str | None = None,
         up_to: str | None = None) -> LoadReport:
    """Load all new landing files of `sources` (default: all three) and report what happened to each.

    `up_to` (YYYY-MM-DD) leaves partitions after that day for their own run: the DAG run for day D loads D and
    anything delivered late for earlier days, never a later day's files early.
    """
    settings = settings or get_settings()
    sources = sources or list(COLUMNS)
    client = s3_client(settings)
    cat = catalog(settings)
    report = LoadReport(batch_id=batch_id or uuid.uuid4().hex)
    rejected_before = _rejected_files(client, settings)
    # All three tables exist after any load, so downstream models always find their sources.
    tables = {source: ensure_table(cat, settings.raw_schema, source) for source in sources}
    for obj in list_landing(client, settings.landing_bucket):
        key, etag = obj["Key"], obj["ETag"].strip('"')
        source = key.split("/", 1)[0]
        if source not in sources and source in COLUMNS:
            continue
        if key.startswith("_"):
            continue  # reserved for tooling (e.g. markers), not deliveries
        if (key, etag) in rejected_before:
            report.files.append(FileResult(key, etag, source, "skipped", reason="rejected earlier"))
            continue
        try:
            parsed = parse_key(key)
        except LayoutError as exc:
            report.files.append(_reject(client, settings, key, etag, None, "bad_layout", report.batch_id, str(exc)))
            continue
        if parsed.source not in tables or (up_to and parsed.dt > up_to):
            continue
        report.files.append(_load_file(client, cat, settings, tables, parsed, key, etag, report.batch_id))
    return report


def _load_file(client, cat, settings, tables, parsed, key, etag, batch_id) -> FileResult:
    uri = f"s3://{settings.landing_bucket}/{key}"
    table = tables[parsed.source]
    if (uri, etag) in loaded_files(table):
        return FileResult(key, etag, parsed.source, "skipped", reason="already loaded")
    from botocore.exceptions import ClientError

    try:
        body = client.get_object(Bucket=settings.landing_bucket, Key=key, IfMatch=f'"{etag}"')["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise
        # Replaced between listing and reading: the new version is a new delivery for the next run.
        return FileResult(key, etag, parsed.source, "skipped", reason="file changed while loading")
    try:
        data = read_landing_file(body, parsed.fmt, parsed.source)
    except FileRejected as exc:
        return _reject(client, settings, key, etag, parsed.source, exc.code, batch_id, exc.detail)
    extras = [c for c in data.column_names if c not in COLUMNS[parsed.source]]
    rows = _with_metadata(data, uri, etag, batch_id)
    result = _commit(cat, settings, tables, parsed.source, rows, uri, etag, batch_id, extras)
    result.key = key
    return result


def _with_metadata(data: pa.Table, uri: str, etag: str, batch_id: str) -> pa.Table:
    n = data.num_rows
    now = datetime.now(timezone.utc)
    return (
        data.append_column("_source_file", pa.array([uri] * n, pa.string()))
        .append_column("_source_etag", pa.array([etag] * n, pa.string()))
        .append_column("_source_row", pa.array(range(1, n + 1), pa.int64()))
        .append_column("_ingested_at", pa.array([now] * n, pa.timestamp("us", tz="UTC")))
        .append_column("_batch_id", pa.array([batch_id] * n, pa.string()))
    )


def _commit(cat, settings, tables, source, rows, uri, etag, batch_id, extras) -> FileResult:
    from pyiceberg.exceptions import CommitFailedException

    properties = {SUMMARY_FILE: uri, SUMMARY_ETAG: etag, SUMMARY_ROWS: str(rows.num_rows), SUMMARY_BATCH: batch_id}
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = tables[source]
        if (uri, etag) in loaded_files(table):
            return FileResult(uri, etag, source, "skipped", reason="loaded by a concurrent loader")
        try:
            table = add_extra_columns(table, extras)
            table.append(conform(rows, table), snapshot_properties=properties)
            tables[source] = table
            return FileResult(uri, etag, source, "loaded", rows=rows.num_rows, extra_columns=extras)
        except CommitFailedException:
            log.info("commit conflict on %s (attempt %d), re-reading the table", uri, attempt)
            time.sleep(min(0.2 * 2 ** attempt, 5))
            tables[source] = cat.load_table((settings.raw_schema, source))
    raise RuntimeError(f"{uri}: gave up after {COMMIT_ATTEMPTS} conflicting commits")


def _rejected_files(client, settings) -> set[tuple[str, str]]:
    """Files already quarantined, from the reason files beside them: rejecting is recorded once."""
    seen = set()
    for obj in list_landing(client, settings.quarantine_bucket):
        if obj["Key"].endswith(".reason.json"):
            doc = json.loads(client.get_object(Bucket=settings.quarantine_bucket, Key=obj["Key"])["Body"].read())
            seen.add((doc["key"], doc["etag"]))
    return seen


def _reject(client, settings, key, etag, source, reason, batch_id, detail) -> FileResult:
    """Copy the file to quarantine with a JSON reason beside it; landing keeps its copy."""
    target = quarantine_key(key, etag)
    client.copy_object(Bucket=settings.quarantine_bucket, Key=target,
                       CopySource={"Bucket": settings.landing_bucket, "Key": key})
    doc = {"key": key, "etag": etag, "source": source, "reason": reason, "detail": detail, "batch_id": batch_id,
           "landing_uri": f"s3://{settings.landing_bucket}/{key}",
           "quarantine_uri": f"s3://{settings.quarantine_bucket}/{target}",
           "quarantined_at": datetime.now(timezone.utc).isoformat()}
    client.put_object(Bucket=settings.quarantine_bucket, Key=f"{target}.reason.json",
                      Body=json.dumps(doc, indent=2).encode(), ContentType="application/json")
    log.warning("rejected %s: %s (%s)", key, reason, detail)
    return FileResult(key, etag, source, "rejected", reason=f"{reason}: {detail}")
