"""Task callables of the maintenance DAG: weekly Iceberg housekeeping through Trino on the raw tables, the ingest
ledger and the dbt models merged in place. Trino refuses a retention below the catalog's floors
(`iceberg.expire-snapshots.min-retention`, `iceberg.remove-orphan-files.min-retention`, set by the stack)."""

from __future__ import annotations

import json
import logging
import re
import time

from include.ingestion.contract import COLUMNS
from include.settings import Settings

log = logging.getLogger(__name__)

LEDGER_TABLE = "ingest_ledger"  # include/ingestion/ledger.py; not imported here so the DAG file parses fast
_DURATION = re.compile(r"\d+(\.\d+)?(ms|s|m|h|d)")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
# Compact first (its replaced files become unreferenced), then expire the snapshots that still reference them,
# then delete what no snapshot references any more.
STATEMENTS = (
    ("optimize", "alter table {table} execute optimize"),
    ("expire_snapshots", "alter table {table} execute expire_snapshots(retention_threshold => '{retention}')"),
    ("remove_orphan_files", "alter table {table} execute remove_orphan_files(retention_threshold => '{retention}')"),
)


def tables(settings: Settings) -> tuple[str, ...]:
    """The `<schema>.<table>` names maintained, in order: the raw tables, the ingest ledger, the merged dbt models."""
    raw = settings.raw_schema
    return (*(f"{raw}.{source}" for source in COLUMNS), f"{raw}.{LEDGER_TABLE}", *incremental_models(settings))


def incremental_models(settings: Settings) -> tuple[str, ...]:
    """The dbt models materialized `incremental`, read from the project's manifest (the one the pipeline DAG reads).

    They are updated in place (merge, delete+insert) and pile up a snapshot a run; the other models are replaced
    whole each run. Read from the manifest so that a model made incremental is maintained without a second list.
    """
    nodes = json.loads(settings.dbt.manifest.read_text())["nodes"].values()
    return tuple(sorted(f"{node['schema']}.{node['name']}" for node in nodes
                        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"))


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    if not (_IDENTIFIER.fullmatch(schema) and _IDENTIFIER.fullmatch(name)):
        raise ValueError(f"not a <schema>.<table> name: {table!r}")
    return schema, name


def table_exists(cursor, catalog: str, table: str) -> bool:
    schema, name = _split(table)
    cursor.execute(f"select count(*) from {catalog}.information_schema.tables where table_schema = ? "
                   "and table_name = ?", [schema, name])
    return cursor.fetchall()[0][0] > 0


def maintain_table(cursor, table: str, catalog: str, retention: str) -> dict:
    """Optimize, expire snapshots and remove orphan files of `<schema>.<table>`; a table not built yet is skipped."""
    if not _DURATION.fullmatch(retention):
        raise ValueError(f"LAKEHOUSE_MAINTENANCE_RETENTION={retention!r}: expected a duration such as 7d or 36h")
    if not table_exists(cursor, catalog, table):
        log.info("%s.%s does not exist yet: nothing to maintain", catalog, table)
        return {"table": table, "skipped": "does not exist"}
    seconds = {}
    for step, sql in STATEMENTS:
        start = time.monotonic()
        cursor.execute(sql.format(table=f"{catalog}.{table}", retention=retention))
        cursor.fetchall()
        seconds[step] = round(time.monotonic() - start, 2)
    log.info("%s.%s maintained (retention %s): %s", catalog, table, retention, seconds)
    return {"table": table, "retention": retention, "seconds": seconds}


def repair_ledger(settings: Settings) -> dict:
    """Bring the ingest ledger up to date before snapshots expire: a rollback is visible only while the rolled-back
    snapshots are still in the table's metadata, and a crash leftover only while its snapshot is."""
    from include.ingestion.loader import repair_ledger as repair

    return repair(settings)


def trino_cursor(settings: Settings):
    from airflow.providers.trino.hooks.trino import TrinoHook

    return TrinoHook(trino_conn_id=settings.pipeline.trino_conn_id).get_conn().cursor()
