"""The ingest ledger: one row per landing object version (key + ETag) saying how it ended — loaded, quarantined
or reported. Every exactly-once decision reads it, so decisions hold whatever maintenance does to snapshots.

It is the Iceberg table `<raw schema>.ingest_ledger`. A loaded file's row is written after its data commit, whose
snapshot summary also names the file, so a crash between the two loses nothing: like Iceberg's Kafka Connect sink,
`catch_up` reads the snapshot summaries newer than the ledger's watermark (per raw table, the newest ancestor
snapshot the ledger records) and writes the missing rows. Every ledger write for a snapshot also covers its
unrecorded ancestors, so the newest recorded ancestor really is a watermark. A rollback leaves rows whose snapshot
is still in the table's metadata but no longer an ancestor of its current snapshot: `invalidate` deletes them and
those files load again. A snapshot that is gone from the metadata was expired, not rolled back: its rows stay.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone

from include.ingestion.raw_tables import SUMMARY_ETAG, SUMMARY_FILE, SUMMARY_KEY, SUMMARY_ROWS, ancestors

LEDGER_TABLE = "ingest_ledger"
LOADED, QUARANTINED, REPORTED = "loaded", "quarantined", "reported"
# Racing loaders may record one object twice; its state is the strongest of its rows.
PRECEDENCE = {LOADED: 3, QUARANTINED: 2, REPORTED: 1}
# Many small appends: merging manifests keeps reading the ledger cheap between maintenance runs. Appends commute,
# so pyiceberg may re-base a conflicting one; the three ingest tasks of a run append at the same time.
LEDGER_PROPERTIES = {"write.parquet.compression-codec": "zstd", "commit.manifest-merge.enabled": "true",
                     "commit.retry.num-retries": "10"}
_COLUMNS = ("landing_key", "etag", "status", "source", "snapshot_id")
# Snapshot ids looked up in the ledger per query while searching for the watermark (usually the first one).
WATERMARK_CHUNK = 16
_DAY = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})(?:/|$)")


@dataclass(frozen=True)
class Entry:
    landing_key: str
    etag: str
    status: str
    source: str | None = None
    landing_day: str | None = None
    reason_code: str | None = None
    reason_detail: str | None = None
    rows_loaded: int | None = None
    quarantine_uri: str | None = None
    snapshot_id: int | None = None
    batch_id: str | None = None
    recorded_at: datetime | None = None


def landing_day(key: str) -> str | None:
    """The key's `dt=` day if it is a calendar date (whatever else is wrong with the key), else None."""
    match = _DAY.search(key)
    if not match:
        return None
    try:
        return date.fromisoformat(match[1]).isoformat()
    except ValueError:
        return None


def ledger_schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

    types = {"rows_loaded": LongType(), "snapshot_id": LongType(), "recorded_at": TimestamptzType()}
    return Schema(*[NestedField(i + 1, f.name, types.get(f.name, StringType()), required=i < 3)
                    for i, f in enumerate(fields(Entry))])


def ensure_ledger(cat, namespace: str):
    from include.ingestion.raw_tables import ensure_iceberg_table

    return ensure_iceberg_table(cat, (namespace, LEDGER_TABLE), ledger_schema(), LEDGER_PROPERTIES)


def key_from_summary(summary) -> str:
    """The landing key of a load snapshot: its own property, or the path of `s3://bucket/key` (older loads)."""
    return summary.get(SUMMARY_KEY) or summary.get(SUMMARY_FILE).split("://", 1)[-1].split("/", 1)[-1]


class Ledger:
    """The ledger rows one load needs, read once with a filter and kept in step in memory as this process writes.

    With `days` only the rows of those landing days (and of keys with no day) are read: a day's run reads what its
    window needs, not the ledger's whole history. Rows of older snapshots are looked up by snapshot id when the
    watermark search needs them, a few ids at a time. `stats` counts what was read and walked (benchmarks, tests).
    """

    def __init__(self, cat, namespace: str, days: Iterable[str] | None = None):
        from pyiceberg.expressions import AlwaysTrue, In, IsNull, Or

        self.table = ensure_ledger(cat, namespace)
        # (key, etag) -> [(status, source, snapshot_id)]; duplicates from racing loaders are harmless here.
        self._rows: dict[tuple[str, str], list[tuple[str, str | None, int | None]]] = {}
        self._snapshots: dict[str | None, set[int]] = {}  # source -> raw-table snapshots recorded as loaded
        self._looked_up: dict[str, set[int]] = {}  # source -> snapshot ids whose rows are in memory
        self.stats = {"ledger_rows_read": 0, "ledger_scans": 0, "snapshots_walked": 0}
        self._complete = days is None
        self._read(AlwaysTrue() if days is None else Or(In("landing_day", sorted(days)), IsNull("landing_day")))

    def _read(self, row_filter) -> None:
        data = self.table.scan(row_filter=row_filter, selected_fields=_COLUMNS).to_arrow()
        self.stats["ledger_rows_read"] += data.num_rows
        self.stats["ledger_scans"] += 1
        for row in zip(*(data.column(c).to_pylist() for c in _COLUMNS), strict=True):
            self._remember(*row)

    def _remember(self, key, etag, status, source, snapshot_id) -> None:
        self._rows.setdefault((key, etag), []).append((status, source, snapshot_id))
        if snapshot_id is not None:
            self._snapshots.setdefault(source, set()).add(snapshot_id)

    def _look_up(self, source: str, snapshot_ids: Iterable[int]) -> None:
        """Bring the rows of these raw-table snapshots into memory, if a filtered read left them out."""
        from pyiceberg.expressions import And, EqualTo, In

        seen = self._looked_up.setdefault(source, set())
        ids = sorted(set(snapshot_ids) - seen - self.recorded_snapshots(source))
        if ids and not self._complete:
            self._read(And(EqualTo("source", source), In("snapshot_id", ids)))
        seen.update(ids)

    def status(self, key: str, etag: str) -> str | None:
        rows = self._rows.get((key, etag))
        return max((r[0] for r in rows), key=PRECEDENCE.__getitem__) if rows else None

    def recorded_snapshots(self, source: str) -> set[int]:
        return self._snapshots.get(source, set())

    def record(self, entries: Iterable[Entry]) -> None:
        """Append rows in one commit (pyiceberg re-bases a conflicting append: appends commute)."""
        import pyarrow as pa

        entries = list(entries)
        if not entries:
            return
        now = datetime.now(timezone.utc)
        names = [f.name for f in fields(Entry)]
        columns = {n: [getattr(e, n) for e in entries] for n in names}
        columns["recorded_at"] = [e.recorded_at or now for e in entries]
        self.table.append(pa.Table.from_pydict(columns, schema=self.table.schema().as_arrow()))
        for e in entries:
            self._remember(e.landing_key, e.etag, e.status, e.source, e.snapshot_id)

    def invalidate(self, source: str, table) -> set[int]:
        """Delete the rows of `source` whose snapshot a rollback took out of the table's history.

        Those snapshots are the ones still in the metadata but not ancestors of the current one: usually none, and
        finding them reads only the metadata already in memory. Only they are looked up in the ledger.
        """
        from pyiceberg.expressions import And, EqualTo, In

        history = {s.snapshot_id for s in ancestors(table)}
        orphaned = {s.snapshot_id for s in table.metadata.snapshots} - history
        if not orphaned:
            return set()
        self._look_up(source, orphaned)
        gone = self.recorded_snapshots(source) & orphaned
        if not gone:
            return gone
        self.table.delete(And(EqualTo("source", source), In("snapshot_id", sorted(gone))))
        for key in list(self._rows):
            self._rows[key] = [r for r in self._rows[key] if not (r[1] == source and r[2] in gone)]
            if not self._rows[key]:
                del self._rows[key]
        self._snapshots[source] = self._snapshots.get(source, set()) - gone
        return gone

    def unrecorded(self, source: str, table, batch_id: str | None = None) -> list[Entry]:
        """Load snapshots newer than the watermark: the table's history back to the newest recorded snapshot.

        The walk is lazy and stops at the watermark, usually the current snapshot: its cost is the number of
        unrecorded commits, not the table's history.
        """
        entries = []
        for snapshot in self._walk(source, table):
            if snapshot.snapshot_id in self.recorded_snapshots(source):
                break
            summary = snapshot.summary
            if summary is None or not summary.get(SUMMARY_FILE):
                continue  # maintenance (optimize) or schema-only commits carry no file
            key = key_from_summary(summary)
            entries.append(Entry(key, summary.get(SUMMARY_ETAG), LOADED, source=source, landing_day=landing_day(key),
                                 rows_loaded=int(summary.get(SUMMARY_ROWS) or 0), snapshot_id=snapshot.snapshot_id,
                                 batch_id=batch_id))
        return entries

    def _walk(self, source: str, table):
        """The table's ancestors, newest first, each with its ledger rows in memory when it is yielded: a snapshot
        not known yet is looked up together with the next few, so finding the watermark usually costs one query."""
        chain, ahead = ancestors(table), deque()
        while True:
            snapshot = ahead.popleft() if ahead else next(chain, None)
            if snapshot is None:
                return
            sid = snapshot.snapshot_id
            if sid not in self.recorded_snapshots(source) and sid not in self._looked_up.get(source, ()):
                ahead.extend(itertools.islice(chain, WATERMARK_CHUNK - 1 - len(ahead)))
                self._look_up(source, [sid, *(s.snapshot_id for s in ahead)])
            self.stats["snapshots_walked"] += 1
            yield snapshot

    def catch_up(self, source: str, table, batch_id: str | None = None) -> list[Entry]:
        """Record the load commits newer than the watermark; a racing loader may have just recorded some of them,
        so the ledger is read again for those snapshots first (duplicates would be harmless, only untidy)."""
        from pyiceberg.expressions import And, EqualTo, In

        missing = self.unrecorded(source, table, batch_id)
        if missing:
            self.table.refresh()
            self._read(And(EqualTo("source", source), In("snapshot_id", [e.snapshot_id for e in missing])))
            missing = [e for e in missing if e.snapshot_id not in self.recorded_snapshots(source)]
            self.record(missing)
        return missing

    def repair(self, source: str, table, batch_id: str | None = None) -> tuple[set[int], list[Entry]]:
        """Invalidate rolled-back rows, then record load commits the ledger missed (a crash, a racing loader)."""
        return self.invalidate(source, table), self.catch_up(source, table, batch_id)

