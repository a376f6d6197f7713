"""The alert ledger: an Iceberg table of every alert that reached Slack, so each is sent once across runs and retries.

A row is written only after Slack (or the local receiver) accepted the message it went out in, so an alert
that could not be delivered stays unrecorded and is sent by a later try. Delivery is therefore at least once:
a crash between a send and its record would repeat that one message, never lose it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from include.alerts.delivery import AlertDeliveryError, RetryPolicy, post, webhook_client

__all__ = ["AlertDeliveryError", "already_sent", "deliver", "ensure_ledger", "ledger_table", "literal", "record_sent",
           "slack_hook"]

TABLE = "alert_log"
KINDS = ("anomaly", "rejected_file", "rejected_rows", "run_digest")
# Values are quoted into the SQL rather than bound: against servers without EXECUTE IMMEDIATE the Trino client
# sends bound statements in an HTTP header, which a large batch overflows. Batches keep the text well under
# Trino's query-length limit.
BATCH = 500

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def ledger_table(schema: str, catalog: str) -> str:
    """`<catalog>.<schema>.alert_log`; the catalog is the settings' TRINO_CATALOG, which the callers pass on."""
    for name in (catalog, schema):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f"{catalog}.{schema}.{TABLE}"


def literal(value: str | None) -> str:
    """A Trino string literal: doubling single quotes is the only escape Trino needs (backslash is plain)."""
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


def _run(cur, sql: str) -> list:
    cur.execute(sql)
    # The Trino client runs a statement to completion only as its results are read.
    return cur.fetchall()


def ensure_ledger(cur, schema: str, catalog: str) -> str:
    """Create the schema and the ledger table if missing; return the table's full name."""
    table = ledger_table(schema, catalog)
    _run(cur, f"create schema if not exists {table.rsplit('.', 1)[0]}")
    _run(cur, f"""
        create table if not exists {table} (
            alert_key varchar,
            alert_kind varchar,
            severity varchar,
            dag_run_id varchar,
            message_id varchar,
            sent_at timestamp(6) with time zone
        )
        with (format = 'PARQUET')
    """)
    return table


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {KINDS}")


def _chunks(items: list, size: int = BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def already_sent(cur, kind: str, keys: Iterable[str], schema: str, catalog: str) -> set[str]:
    """The subset of `keys` that the ledger records as sent for `kind`."""
    _check_kind(kind)
    table = ledger_table(schema, catalog)
    keys = sorted(set(keys))
    found: set[str] = set()
    for chunk in _chunks(keys):
        rows = _run(cur, f"select distinct alert_key from {table} where alert_kind = {literal(kind)} "
                         f"and alert_key in ({', '.join(literal(k) for k in chunk)})")
        found.update(r[0] for r in rows)
    return found


def record_sent(cur, kind: str, rows: Iterable[dict], schema: str, catalog: str) -> int:
    """Record alerts as sent: `rows` are dicts with alert_key, severity, dag_run_id and message_id.

    One INSERT per message (split only past BATCH rows), all rows stamped with the same `sent_at`.
    """
    _check_kind(kind)
    table = ledger_table(schema, catalog)
    rows = list(rows)
    for chunk in _chunks(rows):
        values = ",\n".join(
            f"({literal(r['alert_key'])}, {literal(kind)}, {literal(r.get('severity'))}, "
            f"{literal(r.get('dag_run_id'))}, {literal(r.get('message_id'))}, current_timestamp(6))"
            for r in chunk
        )
        _run(cur, f"insert into {table} (alert_key, alert_kind, severity, dag_run_id, message_id, sent_at) "
                  f"values {values}")
    return len(rows)


def slack_hook(slack_conn_id: str):
    """The webhook client for `slack_conn_id` (a real Slack URL or the local receiver)."""
    return webhook_client(slack_conn_id)


def deliver(cur, client, message: dict, kind: str, rows: list[dict], schema: str, catalog: str,
            policy: RetryPolicy | None = None) -> None:
    """Post one message (retrying 429 and 5xx), then record its alerts; a message never accepted records nothing
    and raises AlertDeliveryError."""
    try:
        post(client, message, policy)
    except AlertDeliveryError as exc:
        raise AlertDeliveryError(f"Slack webhook did not accept the {kind} alert ({len(rows)} items): {exc}") from exc
    record_sent(cur, kind, rows, schema, catalog)
