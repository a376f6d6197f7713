"""Slack alerts for detected transaction anomalies: one message per severity, each anomaly alerted once.

New anomalies are those in `transaction_anomaly_detection` with no ledger row yet. Each severity's message is
recorded right after Slack accepts it, so a retry after a partial failure sends only the groups still missing.
"""

from __future__ import annotations

import re
import uuid

from include.alerts.ledger import deliver, ensure_ledger, literal, slack_hook
from include.alerts.messages import anomaly_message, group_by_severity

# In the lakehouse catalog (TRINO_CATALOG): the schema is fixed by the dbt project, the catalog by the deployment.
ANOMALY_MODEL = "analytics.transaction_anomaly_detection"
COLUMNS = ("anomaly_id", "transaction_id", "client_id", "asset_id", "executed_at", "rule", "score", "severity",
           "reason", "detected_at")
_TABLE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*){1,2}$")


def _alerted(ledger: str) -> str:
    return (f"exists (select 1 from {ledger} l "
            f"where l.alert_kind = {literal('anomaly')} and l.alert_key = a.anomaly_id)")


def _check_table(name: str) -> str:
    if not _TABLE_NAME.match(name):
        raise ValueError(f"not a plain [catalog.]schema.table name: {name!r}")
    return name


def anomaly_table_name(catalog: str) -> str:
    return f"{catalog}.{ANOMALY_MODEL}"


def pending_anomalies(cur, ledger: str, anomaly_table: str) -> list[dict]:
    """Anomalies with no ledger row, oldest detection first, one per anomaly_id."""
    cur.execute(f"select {', '.join('a.' + c for c in COLUMNS)} from {_check_table(anomaly_table)} a "
                f"where not {_alerted(ledger)} order by a.detected_at, a.anomaly_id")
    unique: dict[str, dict] = {}
    for values in cur.fetchall():
        row = dict(zip(COLUMNS, values, strict=True))
        # The model should not repeat an anomaly_id, but a repeat is not worth a second alert.
        unique.setdefault(row["anomaly_id"], row)
    return list(unique.values())


def count_alerted(cur, ledger: str, anomaly_table: str) -> int:
    cur.execute(f"select count(distinct a.anomaly_id) from {_check_table(anomaly_table)} a where {_alerted(ledger)}")
    return cur.fetchall()[0][0]


def send_anomaly_alerts(trino_cursor, slack_conn_id: str, run_id: str, run_url: str, cap: int = 20, *,
                        catalog: str, anomaly_table: str | None = None, ledger_schema: str = "ops") -> dict:
    """Alert Slack about every anomaly not alerted before, grouped by severity (critical first).

    Every table is in `catalog` (the settings' TRINO_CATALOG). Each message lists up to `cap` anomalies and
    summarises the rest by rule, with a link to the Airflow run.
    The summarised ones are recorded as alerted too: they went out in that message, and the run link lists them.
    Raises AlertDeliveryError when the webhook does not accept a message (the task retries; nothing is recorded
    for that message). Returns `{"by_severity": {...}, "messages_sent", "anomalies_sent", "already_alerted"}`.
    """
    cur = trino_cursor
    anomaly_table = anomaly_table or anomaly_table_name(catalog)
    ledger = ensure_ledger(cur, ledger_schema, catalog)
    already = count_alerted(cur, ledger, anomaly_table)
    groups = group_by_severity(pending_anomalies(cur, ledger, anomaly_table))
    hook = slack_hook(slack_conn_id) if groups else None
    for severity, anomalies in groups:
        message_id = str(uuid.uuid4())
        message = anomaly_message(severity, anomalies, run_id, run_url, message_id, cap=cap)
        rows = [{"alert_key": a["anomaly_id"], "severity": severity, "dag_run_id": run_id, "message_id": message_id}
                for a in anomalies]
        deliver(cur, hook, message, "anomaly", rows, ledger_schema, catalog)
    by_severity = {severity: len(anomalies) for severity, anomalies in groups}
    return {"by_severity": by_severity, "messages_sent": len(groups),
            "anomalies_sent": sum(by_severity.values()), "already_alerted": already}
