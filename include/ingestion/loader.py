"""Load every landing object not yet decided: each ends loaded, quarantined or reported, in the ingest ledger.

An object version is its S3 key and ETag. The loader downloads it to a local temp file (S3 errors are the
infrastructure's: they raise and the task retries), then reads it: any exception while reading, conforming or
evolving the schema is the file's fault and quarantines it with a reason code; the loader goes on to the next.
A loaded file is one Iceberg snapshot, its rows streamed through bounded memory into data files committed at
once, the file named in the snapshot summary. Its ledger row follows the data commit; a crash in between is
repaired on the next start (include/ingestion/ledger.py). Two loaders racing on a file both try to commit; the
loser's commit fails Iceberg's optimistic check, it catches up with the winner's snapshot and skips the file.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from include.ingestion.contract import COLUMNS, META_COLUMNS, LayoutError, parse_key
from include.ingestion.ledger import LOADED, QUARANTINED, REPORTED, Entry, Ledger, landing_day
from include.ingestion.listing import Window, list_deliveries
from include.ingestion.raw_tables import (
    SUMMARY_BATCH,
    SUMMARY_ETAG,
    SUMMARY_FILE,
    SUMMARY_KEY,
    SUMMARY_ROWS,
    add_extra_columns,
    catalog,
    commit_data_files,
    conform,
    delete_data_files,
    ensure_table,
    write_data_files,
)
from include.ingestion.readers import FileRejected, ReadLimits, open_landing_file
from include.settings import Settings, get_settings, s3_client

log = logging.getLogger(__name__)
COMMIT_ATTEMPTS = 8
# Reason codes the loader adds to the readers' (docs/landing-contract.md).
UNREADABLE = "unreadable"          # an unexpected exception while reading or conforming the file
FOLDER_MARKER = "folder_marker"    # a zero-byte key ending in "/": recorded as reported, never loaded
SAFE_COLUMN = re.compile(r"[a-z0-9][a-z0-9_]*")
S3_MAX_KEY_BYTES = 1024
REASON_SUFFIX = ".reason.json"
_CHANGED = ("PreconditionFailed", "412", "NoSuchKey", "404")


class FileFault(Exception):
    """The file itself cannot be loaded: a reason code and a detail without any cell value."""

    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}")


@dataclass
class FileResult:
    key: str
    etag: str
    source: str | None
    status: str  # loaded | skipped | quarantined | reported
    rows: int = 0
    reason: str | None = None
    code: str | None = None
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    batch_id: str
    files: list[FileResult] = field(default_factory=list)
    # What deciding cost: objects listed, ledger rows read and scans, raw-table snapshots walked.
    costs: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        if status == "rejected":
            return len(self.rejected())
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows for f in self.files if f.status == "loaded")

    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.status in (QUARANTINED, REPORTED)]

    def to_json(self) -> str:
        counts = {s: self.count(s) for s in ("loaded", "skipped", QUARANTINED, REPORTED)}
        return json.dumps({"batch_id": self.batch_id, "files": [asdict(f) for f in self.files], **counts,
                           "rows_loaded": self.rows_loaded, "costs": self.costs}, indent=2)


def quarantine_key(key: str, etag: str) -> str:
    return f"{key}.{etag}"


def load(settings: Settings | None = None, sources: list[str] | None = None, batch_id: str | None = None,
         up_to: str | None = None, limits: ReadLimits | None = None, lookback_days: int | None = None,
         client=None) -> LoadReport:
    """Decide every new landing object of `sources` (default: all three) and report what happened to each.

    `up_to` (YYYY-MM-DD) leaves partitions after that day for their own run: the DAG run for day D loads D and
    anything delivered late for the `lookback_days` before it (default LAKEHOUSE_INGEST_LOOKBACK_DAYS), never a
    later day's files early, and lists and reads the ledger for those days only (include/ingestion/listing.py).
    With no `up_to` it sweeps every day in the bucket.
    """
    settings = settings or get_settings()
    sources = sources or list(COLUMNS)
    cat = catalog(settings)
    report = LoadReport(batch_id=batch_id or uuid.uuid4().hex)
    client = client or s3_client(settings)
    window = None
    if up_to:
        window = Window.ending(up_to, settings.ingest.lookback_days if lookback_days is None else lookback_days)
    objects = [o for o in list_deliveries(client, settings.landing_bucket, sources, window)
               if not (up_to and (landing_day(o["Key"]) or "") > up_to)]
    # All three tables exist after any load, so downstream models always find their sources.
    tables = {source: ensure_table(cat, settings.raw_schema, source) for source in COLUMNS}
    days = None if window is None else {d for d in (landing_day(o["Key"]) for o in objects) if d}
    ledger = Ledger(cat, settings.raw_schema, days)
    _repair(ledger, tables, sources, report.batch_id)
    limits = limits or ReadLimits.from_settings(settings.ingest)
    loader = _Loader(settings, client, cat, tables, ledger, report.batch_id, limits)
    for obj in objects:
        report.files.append(loader.handle(obj["Key"], obj["ETag"].strip('"'), obj.get("Size", 0)))
    report.costs = {"objects_listed": len(objects), **ledger.stats}
    return report


def repair_ledger(settings: Settings | None = None, sources: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Invalidate rolled-back ledger rows and record load commits the ledger missed, without loading anything."""
    settings = settings or get_settings()
    cat = catalog(settings)
    tables = {source: ensure_table(cat, settings.raw_schema, source) for source in COLUMNS}
    return _repair(Ledger(cat, settings.raw_schema), tables, sources or list(COLUMNS), None)


def _repair(ledger: Ledger, tables: dict, sources: list[str], batch_id: str | None) -> dict[str, dict[str, int]]:
    done = {}
    for source in sources:
        gone, missing = ledger.repair(source, tables[source], batch_id)
        done[source] = {"invalidated_snapshots": len(gone), "recorded_late": len(missing)}
        if gone or missing:
            log.warning("%s: ledger repaired: %d rolled-back snapshot(s) invalidated, %d load(s) recorded late",
                        source, len(gone), len(missing))
    return done


class _Loader:
    def __init__(self, settings, client, cat, tables, ledger, batch_id, limits):
        self.s, self.client, self.cat, self.tables = settings, client, cat, tables
        self.ledger, self.batch_id, self.limits = ledger, batch_id, limits

    def handle(self, key: str, etag: str, size: int) -> FileResult:
        source = key.split("/", 1)[0] if key.split("/", 1)[0] in COLUMNS else None
        status = self.ledger.status(key, etag)
        if status:
            return FileResult(key, etag, source, "skipped", reason=f"already {status}")
        if key.endswith("/") and size == 0:
            return self.report(key, etag, source, FOLDER_MARKER, "zero-byte folder marker, not a delivery")
        try:
            parsed = parse_key(key)
        except LayoutError as exc:
            return self.quarantine(key, etag, source, getattr(exc, "code", "bad_layout"),
                                   getattr(exc, "detail", str(exc)))
        with tempfile.TemporaryDirectory(prefix="lakehouse-load-") as tmp:
            path = Path(tmp) / "object"
            if not self.download(key, etag, path):
                # Replaced or removed since the listing: the new version is a new delivery for the next run.
                return FileResult(key, etag, source, "skipped", reason="file changed while loading")
            try:
                return self.ingest(parsed, key, etag, path)
            except FileFault as fault:
                return self.quarantine(key, etag, source, fault.code, fault.detail)

    def download(self, key: str, etag: str, path: Path) -> bool:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.s.landing_bucket, Key=key, IfMatch=f'"{etag}"')["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CHANGED:
                return False
            raise
        with path.open("wb") as out:
            for chunk in body.iter_chunks(8 << 20):
                out.write(chunk)
        return True

    def ingest(self, parsed, key: str, etag: str, path: Path) -> FileResult:
        from contextlib import ExitStack

        with ExitStack() as stack:
            try:
                landing = stack.enter_context(open_landing_file(path, parsed.fmt, parsed.source, self.limits))
                extras = list(landing.extra_columns)
            except Exception as exc:  # noqa: BLE001 - reading a local file: whatever fails is the file's fault
                raise _fault(exc, "opening") from None
            table = self.evolve(parsed.source, extras)
            uri = f"s3://{self.s.landing_bucket}/{key}"
            stream = _Stream(landing, table.schema().as_arrow(), uri, etag, self.batch_id)
            files = write_data_files(table, stream, ingested_at=stream.ingested_at)
        if stream.rows == 0:
            delete_data_files(table, files)
            raise FileFault("header_only", "no data rows (header only)")
        props = {SUMMARY_FILE: uri, SUMMARY_KEY: key, SUMMARY_ETAG: etag, SUMMARY_ROWS: str(stream.rows),
                 SUMMARY_BATCH: self.batch_id}
        return self.commit(parsed, key, etag, files, props, stream.rows, extras)

    def evolve(self, source: str, extras: list[str]):
        """Add the file's extra columns; a name that would break the table is the file's fault."""
        unsafe = [n for n in extras if not SAFE_COLUMN.fullmatch(n) or n in META_COLUMNS]
        if unsafe:
            raise FileFault("bad_header", f"column name(s) not allowed: {', '.join(unsafe)[:200]}")
        from pyiceberg.exceptions import CommitFailedException

        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                self.tables[source] = add_extra_columns(self.tables[source], extras)
                return self.tables[source]
            except CommitFailedException:
                self._reload(source, attempt)
            except Exception as exc:
                if _infrastructure(exc):
                    raise
                raise FileFault("bad_header", f"schema evolution refused ({type(exc).__name__})") from None
        raise RuntimeError(f"{source}: gave up evolving the schema after {COMMIT_ATTEMPTS} conflicting commits")

    def commit(self, parsed, key, etag, files, props, rows, extras) -> FileResult:
        from pyiceberg.exceptions import CommitFailedException

        source = parsed.source
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            table = self.tables[source]
            # A racing loader may have committed this very file since the ledger was read.
            self.ledger.catch_up(source, table, self.batch_id)
            if self.ledger.status(key, etag) == LOADED:
                delete_data_files(table, files)
                return FileResult(key, etag, source, "skipped", reason="loaded by a concurrent loader")
            try:
                snapshot_id = commit_data_files(table, files, props)
            except CommitFailedException:
                self._reload(source, attempt)
                continue
            self.ledger.record([Entry(key, etag, LOADED, source=source, landing_day=parsed.dt, rows_loaded=rows,
                                      snapshot_id=snapshot_id, batch_id=self.batch_id)])
            return FileResult(key, etag, source, "loaded", rows=rows, extra_columns=extras)
        raise RuntimeError(f"{key}: gave up after {COMMIT_ATTEMPTS} conflicting commits")

    def _reload(self, source: str, attempt: int) -> None:
        log.info("commit conflict on %s (attempt %d), re-reading the table", source, attempt)
        time.sleep(min(0.2 * 2 ** attempt, 5))
        self.tables[source] = self.cat.load_table((self.s.raw_schema, source))

    def quarantine(self, key: str, etag: str, source: str | None, code: str, detail: str) -> FileResult:
        """Copy the object to quarantine with a JSON reason beside it (for humans), then record it."""
        from botocore.exceptions import ClientError

        target = quarantine_key(key, etag)
        if len((target + REASON_SUFFIX).encode()) > S3_MAX_KEY_BYTES:
            return self.report(key, etag, source, code, f"{detail}; key too long to copy to quarantine")
        try:
            self.client.copy({"Bucket": self.s.landing_bucket, "Key": key}, self.s.quarantine_bucket, target,
                             ExtraArgs={"CopySourceIfMatch": f'"{etag}"'})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CHANGED:
                return FileResult(key, etag, source, "skipped", reason="file changed while loading")
            raise
        uri = f"s3://{self.s.quarantine_bucket}/{target}"
        doc = {"key": key, "etag": etag, "source": source, "reason": code, "detail": detail, "batch_id": self.batch_id,
               "landing_uri": f"s3://{self.s.landing_bucket}/{key}", "quarantine_uri": uri,
               "quarantined_at": datetime.now(timezone.utc).isoformat()}
        self.client.put_object(Bucket=self.s.quarantine_bucket, Key=target + REASON_SUFFIX,
                               Body=json.dumps(doc, indent=2).encode(), ContentType="application/json")
        self.ledger.record([Entry(key, etag, QUARANTINED, source=source, landing_day=landing_day(key), reason_code=code,
                                  reason_detail=detail, quarantine_uri=uri, batch_id=self.batch_id)])
        log.warning("quarantined %s: %s (%s)", key, code, detail)
        return FileResult(key, etag, source, QUARANTINED, reason=f"{code}: {detail}", code=code)

    def report(self, key: str, etag: str, source: str | None, code: str, detail: str) -> FileResult:
        """Record an object that cannot be loaded or copied: it is alerted from the ledger, never loaded."""
        self.ledger.record([Entry(key, etag, REPORTED, source=source, landing_day=landing_day(key), reason_code=code,
                                  reason_detail=detail, batch_id=self.batch_id)])
        log.warning("reported %s: %s (%s)", key, code, detail)
        return FileResult(key, etag, source, REPORTED, reason=f"{code}: {detail}", code=code)


class _Stream:
    """The reader's batches with load metadata, in the table's column order. Anything raised while reading or
    conforming becomes a FileFault, so the writer's own (infrastructure) errors stay apart from the file's."""

    def __init__(self, landing, arrow_schema: pa.Schema, uri: str, etag: str, batch_id: str):
        self.landing, self.schema, self.rows = landing, arrow_schema, 0
        self.uri, self.etag, self.batch_id = uri, etag, batch_id
        self.ingested_at = datetime.now(timezone.utc)
        self.now = pa.scalar(self.ingested_at, pa.timestamp("us", tz="UTC"))

    def __iter__(self):
        batches = iter(self.landing.batches())
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - the file's fault, whatever it is
                raise _fault(exc, f"reading after data row {self.rows}") from None
            try:
                out = conform(self._with_metadata(batch), self.schema)
            except Exception as exc:  # noqa: BLE001
                raise _fault(exc, f"conforming rows {self.rows + 1}-{self.rows + batch.num_rows}") from None
            self.rows += batch.num_rows
            yield out

    def _with_metadata(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import numpy as np

        n = batch.num_rows
        extra = {"_source_file": pa.repeat(self.uri, n), "_source_etag": pa.repeat(self.etag, n),
                 "_source_row": pa.array(np.arange(self.rows + 1, self.rows + n + 1, dtype=np.int64)),
                 "_ingested_at": pa.repeat(self.now, n), "_batch_id": pa.repeat(self.batch_id, n)}
        return pa.RecordBatch.from_arrays(batch.columns + list(extra.values()),
                                          names=batch.schema.names + list(extra))


def _fault(exc: BaseException, phase: str) -> FileFault:
    if isinstance(exc, FileFault):
        return exc
    if isinstance(exc, FileRejected):
        return FileFault(exc.code, exc.detail)
    # The exception's message may quote a cell value: only its type is kept.
    return FileFault(UNREADABLE, f"{type(exc).__name__} while {phase}")


def _infrastructure(exc: BaseException) -> bool:
    """Errors of S3, the catalog database or the network: the task should fail and retry."""
    from botocore.exceptions import BotoCoreError, ClientError
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, (OSError, BotoCoreError, ClientError, SQLAlchemyError))
