"""The raw Iceberg tables: created on first load, widened when a delivery brings a column the contract lacks,
and written one landing file per snapshot, streamed into data files so memory stays bounded."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone

import pyarrow as pa

from include.ingestion.contract import COLUMNS

# Each load commit names its file in the Iceberg snapshot summary, atomically with its rows. The ingest ledger
# (include/ingestion/ledger.py) is the record that decides; these let it be repaired after a crash.
SUMMARY_FILE = "lakehouse.source-file"
SUMMARY_KEY = "lakehouse.source-key"
SUMMARY_ETAG = "lakehouse.source-etag"
SUMMARY_ROWS = "lakehouse.source-rows"
SUMMARY_BATCH = "lakehouse.batch-id"

# Arrow bytes buffered per data file: one file's worth is all the loader holds beside the reader's batch.
DATA_FILE_TARGET_BYTES = 64 << 20


def catalog(settings):
    from pyiceberg.catalog import load_catalog

    return load_catalog(settings.iceberg_catalog_name, **settings.iceberg_catalog_properties())


def iceberg_schema(source: str):
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

    fields = [NestedField(i + 1, name, StringType(), required=False) for i, name in enumerate(COLUMNS[source])]
    n = len(fields)
    fields += [
        NestedField(n + 1, "_source_file", StringType(), required=False),
        NestedField(n + 2, "_source_etag", StringType(), required=False),
        NestedField(n + 3, "_source_row", LongType(), required=False),
        NestedField(n + 4, "_ingested_at", TimestamptzType(), required=False),
        NestedField(n + 5, "_batch_id", StringType(), required=False),
    ]
    return Schema(*fields)


# pyiceberg would retry a conflicting append by re-basing it on the winner's snapshot, which loads a file
# twice when two loaders race on it. With no automatic retry the loader re-reads the ledger and decides itself.
TABLE_PROPERTIES = {"write.parquet.compression-codec": "zstd", "commit.retry.num-retries": "0"}


# Raw tables are partitioned by the day of `_ingested_at`: one landing file is one ingestion instant, so each load
# writes one partition, and incremental models that read "rows ingested since" prune whole days.
PARTITION_FIELD = "_ingested_at_day"


def partition_spec(schema):
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import DayTransform

    source_id = schema.find_field("_ingested_at").field_id
    return PartitionSpec(PartitionField(source_id=source_id, field_id=1000, transform=DayTransform(),
                                        name=PARTITION_FIELD))


def ensure_table(cat, namespace: str, source: str):
    schema = iceberg_schema(source)
    table = ensure_iceberg_table(cat, (namespace, source), schema, TABLE_PROPERTIES, partition_spec(schema))
    return partition_by_ingest_day(table)


def partition_by_ingest_day(table):
    """Give a table created unpartitioned (before partitioning) the day spec: metadata only. Its old data files
    keep their spec and are read as before; new ones are written partitioned. Racing loaders: the loser re-reads."""
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.transforms import DayTransform

    for _ in range(3):
        if any(f.name == PARTITION_FIELD for f in table.spec().fields):
            return table
        try:
            with table.update_spec() as update:
                update.add_field("_ingested_at", DayTransform(), PARTITION_FIELD)
        except CommitFailedException:
            table = table.refresh()
    return table


def ensure_iceberg_table(cat, identifier: tuple[str, str], schema, properties: dict[str, str], spec=None):
    """Load the table, creating it (and its namespace) if missing; racing creators both end up with it."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError

    try:
        table = cat.load_table(identifier)
    except NoSuchTableError:
        pass
    else:
        if any(table.properties.get(k) != v for k, v in properties.items()):
            with table.transaction() as tx:
                tx.set_properties(properties)
        return table
    # Racing loaders may both create; the SQL catalog reports the loser as a unique-key violation.
    try:
        cat.create_namespace(identifier[0])
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, NamespaceAlreadyExistsError) and not cat.namespace_exists(identifier[0]):
            raise
    try:
        extra = {"partition_spec": spec} if spec is not None else {}
        return cat.create_table(identifier, schema=schema, properties=properties, **extra)
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, TableAlreadyExistsError) and not cat.table_exists(identifier):
            raise
        return ensure_iceberg_table(cat, identifier, schema, properties, spec)


def add_extra_columns(table, names: list[str]):
    """Evolve the schema with delivered columns the table does not have yet (never drop them)."""
    from pyiceberg.types import StringType

    existing = set(table.schema().column_names)
    missing = [n for n in names if n not in existing]
    if not missing:
        return table
    with table.update_schema() as update:
        for name in missing:
            update.add_column(name, StringType())
    return table


def conform(data: pa.RecordBatch, arrow_schema: pa.Schema) -> pa.RecordBatch:
    """Arrange `data` in the table's column order, with nulls for columns this file did not deliver."""
    columns = []
    for field in arrow_schema:
        if field.name in data.schema.names:
            columns.append(data.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(data.num_rows, field.type))
    return pa.RecordBatch.from_arrays(columns, schema=arrow_schema)


def write_data_files(table, batches: Iterable[pa.RecordBatch], target_bytes: int | None = None,
                     ingested_at: datetime | None = None) -> list:
    """Write conformed batches as Parquet data files of the table, one file per `target_bytes` of Arrow data.

    Every row of one landing file carries the same `ingested_at`, so all its data files go to that day's partition
    (for a table still unpartitioned, or with no `ingested_at`, no partition).

    pyiceberg's own streaming append hands every chunk to a thread pool at once (so a big file is held whole).
    Here one chunk is written in the background while the next is read: at most two chunks in memory, and both
    cores busy (pyarrow releases the GIL to parse and to encode). Nothing is committed: the caller commits.
    """
    from concurrent.futures import ThreadPoolExecutor

    from pyiceberg.io.pyarrow import pyarrow_to_schema, write_file
    from pyiceberg.table import WriteTask

    metadata = table.metadata
    task_schema = pyarrow_to_schema(table.schema().as_arrow(), name_mapping=metadata.schema().name_mapping,
                                    format_version=metadata.format_version)
    write_uuid, counter = uuid.uuid4(), itertools.count()
    key = partition_key(table, ingested_at) if ingested_at is not None else None

    def write(chunk: list[pa.RecordBatch]) -> list:
        task = WriteTask(write_uuid=write_uuid, task_id=next(counter), schema=task_schema, record_batches=chunk,
                         partition_key=key)
        return list(write_file(table.io, metadata, iter([task])))

    files: list = []
    pending = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-file-writer") as pool:
        try:
            for chunk in _chunks(batches, target_bytes or DATA_FILE_TARGET_BYTES):
                if pending is not None:
                    files += pending.result()
                pending = pool.submit(write, chunk)
            if pending is not None:
                files += pending.result()
                pending = None
        except BaseException:
            if pending is not None and pending.exception() is None:
                files += pending.result()
            delete_data_files(table, files)
            raise
    return files


def partition_key(table, ingested_at: datetime):
    """The partition every row ingested at `ingested_at` belongs to, under the table's current spec."""
    from pyiceberg.partitioning import PartitionFieldValue, PartitionKey

    spec = table.spec()
    if not spec.fields:
        return None
    if [f.name for f in spec.fields] != [PARTITION_FIELD]:
        raise RuntimeError(f"{table.name()}: unexpected partition spec {spec}; only {PARTITION_FIELD} is written")
    day = (ingested_at.astimezone(timezone.utc).date() - date(1970, 1, 1)).days
    return PartitionKey(field_values=[PartitionFieldValue(spec.fields[0], day)], partition_spec=spec,
                        schema=table.schema())


def _chunks(batches: Iterable[pa.RecordBatch], target_bytes: int):
    chunk, size = [], 0
    for batch in batches:
        chunk.append(batch)
        size += batch.nbytes
        if size >= target_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def delete_data_files(table, files: list) -> None:
    """Best effort: files never committed are orphans; remove_orphan_files would get them later anyway."""
    for data_file in files:
        try:
            table.io.delete(data_file.file_path)
        except Exception:  # noqa: BLE001, S110 - cleanup only
            pass


def commit_data_files(table, files: list, properties: dict[str, str]) -> int:
    """One snapshot holding all of a landing file's data files; returns its id. Raises CommitFailedException
    if another writer committed since `table` was loaded (the table has no automatic retry)."""
    tx = table.transaction()
    with tx.update_snapshot(snapshot_properties=properties).fast_append() as append:
        for data_file in files:
            append.append_data_file(data_file)
    committed = tx.commit_transaction()
    return committed.metadata.current_snapshot_id


def ancestors(table) -> Iterator:
    """The current snapshot and its parents still in the metadata (expired ones are gone), newest first.

    Lazy, so a caller that stops at the ledger's watermark reads one or two snapshots, not the whole history; the
    id index is built only if the walk goes past the current snapshot.
    """
    snapshot, by_id = table.current_snapshot(), None
    while snapshot is not None:
        yield snapshot
        parent = snapshot.parent_snapshot_id
        if parent is None:
            return
        by_id = by_id or {s.snapshot_id: s for s in table.metadata.snapshots}
        snapshot = by_id.get(parent)
