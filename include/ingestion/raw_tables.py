"""The raw Iceberg tables: created on first load, widened when a delivery brings a column the contract lacks."""

from __future__ import annotations

import pyarrow as pa

from include.ingestion.contract import COLUMNS

# The ledger: each load commit records its file here, in the Iceberg snapshot summary, atomically with its rows.
SUMMARY_FILE = "lakehouse.source-file"
SUMMARY_ETAG = "lakehouse.source-etag"
SUMMARY_ROWS = "lakehouse.source-rows"
SUMMARY_BATCH = "lakehouse.batch-id"


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


def ensure_table(cat, namespace: str, source: str):
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError

    identifier = (namespace, source)
    try:
        table = cat.load_table(identifier)
    except NoSuchTableError:
        pass
    else:
        if any(table.properties.get(k) != v for k, v in TABLE_PROPERTIES.items()):
            with table.transaction() as tx:
                tx.set_properties(TABLE_PROPERTIES)
        return table
    # Racing loaders may both create; the SQL catalog reports the loser as a unique-key violation.
    try:
        cat.create_namespace(namespace)
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, NamespaceAlreadyExistsError) and not cat.namespace_exists(namespace):
            raise
    try:
        return cat.create_table(identifier, schema=iceberg_schema(source), properties=TABLE_PROPERTIES)
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, TableAlreadyExistsError) and not cat.table_exists(identifier):
            raise
        return ensure_table(cat, namespace, source)


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


def loaded_files(table) -> set[tuple[str, str]]:
    """(file, etag) pairs committed so far, read from the snapshot summaries of the table's history."""
    seen = set()
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and summary.get(SUMMARY_FILE):
            seen.add((summary.get(SUMMARY_FILE), summary.get(SUMMARY_ETAG)))
    return seen


def conform(data: pa.Table, table) -> pa.Table:
    """Arrange `data` in the table's column order, with nulls for columns this file did not deliver."""
    arrow_schema = table.schema().as_arrow()
    columns = []
    for field in arrow_schema:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(data.num_rows, field.type))
    return pa.table(columns, schema=arrow_schema)
