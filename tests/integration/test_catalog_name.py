"""The loader and the alerts work in whatever catalog the settings name, and in no other.

The loader writes through the pyiceberg catalog ICEBERG_CATALOG_NAME and Trino reads it as TRINO_CATALOG; the alerts
query the ingest ledger, the anomaly model and their own ledger in TRINO_CATALOG. Whatever the stack's catalogs are
called, the alerts here are told a pretend catalog name, and their session renames it to the real one: a query naming
any other catalog (the default `iceberg`, say) is caught, and one leaving the catalog out fails, since the session's
default catalog is `system`. The loader is run once more under a pretend pyiceberg catalog name, and its tables must
be found under that name only. Also run against a stack whose catalogs are called `lake_alt` (TRINO_CATALOG,
ICEBERG_CATALOG_NAME in its env file).
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import trino

from include.alerts.anomalies import send_anomaly_alerts
from include.alerts.rejects import send_reject_alerts
from include.ingestion.loader import load
from include.ingestion.raw_tables import catalog as iceberg_catalog
from tests.conftest import query
from tests.integration.test_alerts import RUN_URL, free_port, receiver, slack_conn  # noqa: F401 - fixtures
from tests.integration.test_ingestion import TX_HEADER, csv_bytes, put, tx_row

pytestmark = pytest.mark.integration

PRETEND = "lake_probe"

_LITERAL = re.compile(r"'(?:[^']|'')*'")
# catalog.schema.table, or catalog.schema after SCHEMA (CREATE SCHEMA). A two-part name elsewhere is schema.table:
# on this session it would resolve in `system` and fail.
_QUALIFIED = re.compile(r"\b([A-Za-z_]\w*)\.[A-Za-z_]\w*\.[A-Za-z_]\w*\b"
                        r"|\bschema(?: if not exists)?\s+([A-Za-z_]\w*)\.[A-Za-z_]\w*\b(?!\.)", re.I)


class RecordingCursor:
    """A Trino cursor that keeps every statement as the code wrote it, and runs it with `pretend.` renamed `real.`."""

    def __init__(self, cursor, pretend: str | None = None, real: str | None = None):
        self.cursor, self.statements = cursor, []
        self.rename = (re.compile(rf"\b{pretend}\."), f"{real}.") if pretend else None

    def execute(self, sql, params=None):
        self.statements.append(sql)
        if self.rename:
            sql = self.rename[0].sub(self.rename[1], sql)
        return self.cursor.execute(sql, params) if params is not None else self.cursor.execute(sql)

    def fetchall(self):
        return self.cursor.fetchall()


def catalogs_named(sql: str) -> set[str]:
    """The catalogs a statement names, string literals left out."""
    return {a or b for a, b in _QUALIFIED.findall(_LITERAL.sub("''", sql))}


def test_catalogs_named_reads_qualified_names_only():
    assert catalogs_named("select * from iceberg.ops.alert_log l where l.alert_key = 'x.y.z'") == {"iceberg"}
    assert catalogs_named("create schema if not exists lake_alt.ops") == {"lake_alt"}
    assert catalogs_named("select a.rule from staging.stg_x a") == set()


@pytest.fixture()
def connection(settings):
    """A connection whose default catalog is not the lakehouse's: every query must name the catalog itself."""
    conn = trino.dbapi.connect(host=settings.trino_host, port=settings.trino_port, user=settings.trino_user,
                               http_scheme=settings.trino_http_scheme, catalog="system", schema="runtime")
    yield conn
    conn.close()


def test_loader_and_alerts_use_the_settings_catalog_and_no_other(lake, s3, connection, slack_conn):  # noqa: F811
    real, raw = lake.trino_catalog, lake.raw_schema
    session = RecordingCursor(connection.cursor())
    put(s3, lake, "transactions/dt=2026-11-20/good.csv", csv_bytes(TX_HEADER, [tx_row("T1"), tx_row("T2")]))
    put(s3, lake, "transactions/dt=2026-11-20/empty.csv", b"")
    report = load(lake, sources=["transactions"])
    assert sorted(f.status for f in report.files) == ["loaded", "quarantined"]
    # Written through pyiceberg's ICEBERG_CATALOG_NAME, read back through Trino's TRINO_CATALOG.
    assert query(session, f"select count(*) from {real}.{raw}.transactions") == [[2]]
    query(session, f"""create table {real}.{raw}.transaction_anomaly_detection (
        anomaly_id varchar, transaction_id varchar, client_id varchar, asset_id varchar,
        executed_at timestamp(6) with time zone, rule varchar, score double, severity varchar, reason varchar,
        detected_at timestamp(6) with time zone)""")
    query(session, f"insert into {real}.{raw}.transaction_anomaly_detection values ('a1', 'T1', 'C000001', "
                   "'A0001', current_timestamp(6), 'amount_outlier', 9.5, 'high', 'far above', current_timestamp(6))")

    alerts = RecordingCursor(connection.cursor(), PRETEND, real)
    files = send_reject_alerts(alerts, slack_conn, "run_1", RUN_URL, sources=["transactions"], catalog=PRETEND,
                               raw_schema=raw, staging_schema=raw, ledger_schema=raw)
    anomalies = send_anomaly_alerts(alerts, slack_conn, "run_1", RUN_URL, catalog=PRETEND,
                                    anomaly_table=f"{PRETEND}.{raw}.transaction_anomaly_detection", ledger_schema=raw)
    assert (files["files_sent"], anomalies["anomalies_sent"]) == (1, 1)
    assert query(session, f"select alert_kind from {real}.{raw}.alert_log order by 1") == [
        ["anomaly"], ["rejected_file"]]
    named = set().union(*map(catalogs_named, alerts.statements))
    assert named == {PRETEND}, f"the alerts named {named - {PRETEND}} besides the catalog they were given"


def test_the_loader_writes_to_the_pyiceberg_catalog_it_is_given(lake, s3):
    probe = dataclasses.replace(lake, iceberg_catalog_name=PRETEND)
    put(s3, lake, "transactions/dt=2026-11-20/good.csv", csv_bytes(TX_HEADER, [tx_row("T1")]))
    assert [f.status for f in load(probe, sources=["transactions"]).files] == ["loaded"]
    given, usual = iceberg_catalog(probe), iceberg_catalog(lake)
    try:
        assert given.load_table((lake.raw_schema, "transactions")).scan().to_arrow().num_rows == 1
        assert not usual.table_exists((lake.raw_schema, "transactions"))
    finally:
        for table in given.list_tables(lake.raw_schema):
            given.drop_table(table)
        given.drop_namespace(lake.raw_schema)
