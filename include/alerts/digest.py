"""The run digest: one Slack message per DAG run saying what it did, sent once through the alert ledger.

Every fact is read from something that outlives the run's tasks, never from XCom: the ingest ledger (files and
rows loaded per source, under the run's batch id), the `stg_<source>_rejected` models (rows rejected, by batch id),
the run's saved dbt run_results (tests passed and failed), the anomaly model with the alert ledger (anomalies new in
this run) and Airflow's task states. A retry or a cleared task therefore rebuilds the same digest, and the ledger
key `<dag_id>:<run_id>` lets it out once. Only counts, codes and names are read: no delivered value.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path

from include.alerts.anomalies import anomaly_table_name
from include.alerts.ledger import (
    already_sent,
    check_identifier,
    deliver,
    ensure_ledger,
    literal,
    slack_hook,
)
from include.alerts.messages import digest_message
from include.alerts.rejects import INGEST_LEDGER, existing_tables, safe_code

log = logging.getLogger(__name__)

KIND = "run_digest"
SEVERITY = "info"
# Strongest outcome of a landing object recorded twice by racing loaders (as include/alerts/rejects.py reads it).
_STRENGTH = "case status when 'loaded' then 3 when 'quarantined' then 2 when 'reported' then 1 else 0 end"
_FAILED_DBT = ("fail", "error")


def digest_key(dag_id: str, run_id: str) -> str:
    return f"{dag_id}:{run_id}"


def _run(cur, sql: str) -> list:
    cur.execute(sql)
    return cur.fetchall()


def _empty_source() -> dict[str, int]:
    return {"files_loaded": 0, "files_quarantined": 0, "files_reported": 0, "rows_loaded": 0, "rows_rejected": 0}


def ingest_counts(cur, ledger_table: str, run_id: str) -> dict[str, dict[str, int]]:
    """Files per outcome and rows loaded, per source, of the landing objects this run's loads recorded (the loader
    records them under the run id as batch id, on every try)."""
    rows = _run(cur, f"""
        select source, status, count(*), coalesce(sum(rows_loaded), 0)
        from (select arbitrary(source) as source, max_by(status, {_STRENGTH}) as status,
                     max_by(rows_loaded, {_STRENGTH}) as rows_loaded
              from {ledger_table} where batch_id = {literal(run_id)} group by landing_key, etag)
        group by source, status""")
    counts: dict[str, dict[str, int]] = {}
    for source, status, files, loaded in rows:
        s = counts.setdefault(safe_code(source) or "unknown", _empty_source())
        if status in ("loaded", "quarantined", "reported"):
            s[f"files_{status}"] += int(files)
        if status == "loaded":
            s["rows_loaded"] += int(loaded)
    return counts


def rejected_counts(cur, tables: dict[str, str], run_id: str) -> dict[str, int]:
    """Rows set aside per source in its rejected-rows model, for the batches this run loaded."""
    if not tables:
        return {}
    sql = " union all ".join(f"select {literal(source)}, count(*) from {table} where _batch_id = {literal(run_id)}"
                             for source, table in tables.items())
    return {source: int(n) for source, n in _run(cur, sql)}


def anomaly_counts(cur, anomaly_table: str, ledger: str, run_id: str) -> list[dict]:
    """New anomalies by rule and severity: those this run alerted, and those no run has alerted yet (an alert task
    that failed), so the digest counts them whatever happened to the alerts."""
    alerted = f"select 1 from {ledger} l where l.alert_kind = 'anomaly' and l.alert_key = a.anomaly_id"
    rows = _run(cur, f"""
        select a.rule, a.severity, count(distinct a.anomaly_id) from {anomaly_table} a
        where exists ({alerted} and l.dag_run_id = {literal(run_id)}) or not exists ({alerted})
        group by a.rule, a.severity order by a.rule, a.severity""")
    return [{"rule": safe_code(rule) or "unknown", "severity": safe_code(severity) or "unknown", "count": int(n)}
            for rule, severity, n in rows]


def _node_name(unique_id: str) -> str:
    # test.<project>.<name>.<hash>, unit_test.<project>.<model>.<name>, model.<project>.<name>
    parts = unique_id.split(".")
    return parts[2] if parts[0] == "test" and len(parts) > 2 else ".".join(parts[2:]) or unique_id


def dbt_counts(run_dir: Path | None) -> dict | None:
    """Test and model statuses of one run from the files include/pipeline/dbt_results.py saved, oldest first."""
    files = sorted(run_dir.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)) if run_dir else []
    return dbt_counts_from(json.loads(path.read_text()).get("results", []) for path in files)


def dbt_counts_from(invocations: Iterable[list[dict] | None]) -> dict | None:
    """Test and model statuses from dbt invocations' results in the order they ran: the latest result of each node
    wins, so a test retried after a failure counts once, as it ended. None when there are none."""
    latest: dict[str, str] = {}
    for results in invocations:
        for result in results or []:
            latest[result["unique_id"]] = result["status"]
    if not latest:
        return None
    counts: dict = {"tests": {}, "models": {}, "failed": []}
    for unique_id, status in sorted(latest.items()):
        kind = "tests" if unique_id.startswith(("test.", "unit_test.")) else "models"
        counts[kind][status] = counts[kind].get(status, 0) + 1
        if status in _FAILED_DBT:
            counts["failed"].append(_node_name(unique_id))
    return counts


def run_results_dir(run_id: str, base: str | Path | None) -> Path | None:
    """Where save_run_results keeps this run's results (`Settings.dbt.results_dir`/<run id, / as _>), if enabled."""
    return Path(base) / run_id.replace("/", "_") if base else None


def task_summary(states: dict[str, str | None] | None, own_task_id: str | None) -> tuple[dict | None, list[str]]:
    """Tasks of the run counted by state (the digest's own task left out), and the ones that failed."""
    if not states:
        return None, []
    others = {t: s or "not run" for t, s in states.items() if t != own_task_id}
    counts: dict[str, int] = {}
    for state in others.values():
        counts[state] = counts.get(state, 0) + 1
    return counts, sorted(t for t, s in others.items() if s == "failed")


def gather(cur, dag_id: str, run_id: str, *, sources: Iterable[str], catalog: str, raw_schema: str,
           staging_schema: str, ledger: str, anomaly_table: str, results_dir: Path | None = None,
           task_states: dict | None = None, own_task_id: str | None = None,
           dbt_results: Iterable[list[dict] | None] = ()) -> dict:
    """Every fact of the digest; a table not created yet counts as nothing, and is named as unavailable.
    dbt's results come from `results_dir`, else from `dbt_results` (the dbt tasks' XCom, in the order they ran)."""
    sources = [check_identifier(s) for s in sources]
    models = {s: (check_identifier(staging_schema), f"stg_{s}_rejected") for s in sources}
    anomaly_schema, anomaly_name = anomaly_table.split(".")[-2:]
    present = existing_tables(cur, catalog, [(raw_schema, INGEST_LEDGER), (anomaly_schema, anomaly_name),
                                             *models.values()])
    unavailable = []
    counts = {s: _empty_source() for s in sources}
    if (raw_schema, INGEST_LEDGER) in present:
        for source, c in ingest_counts(cur, f"{catalog}.{raw_schema}.{INGEST_LEDGER}", run_id).items():
            counts[source] = {**counts.get(source, _empty_source()), **c}
    else:
        unavailable.append("ingest ledger")
    rejected = rejected_counts(cur, {s: f"{catalog}.{'.'.join(t)}" for s, t in models.items() if t in present}, run_id)
    for source, n in rejected.items():
        counts[source]["rows_rejected"] = n
    unavailable += [f"stg_{s}_rejected" for s, t in models.items() if t not in present]
    anomalies = []
    if (anomaly_schema, anomaly_name) in present:
        anomalies = anomaly_counts(cur, anomaly_table, ledger, run_id)
    else:
        unavailable.append(anomaly_name)
    tasks, failed_tasks = task_summary(task_states, own_task_id)
    dbt = dbt_counts(results_dir) or dbt_counts_from(dbt_results)
    return {"dag_id": dag_id, "run_id": run_id, "sources": counts, "dbt": dbt, "anomalies": anomalies,
            "tasks": tasks, "failed_tasks": failed_tasks, "unavailable": unavailable}


def send_run_digest(trino_cursor, slack_conn_id: str, dag_id: str, run_id: str, run_url: str, *,
                    sources: Iterable[str], catalog: str, raw_schema: str, staging_schema: str = "staging",
                    ledger_schema: str = "ops", anomaly_table: str | None = None,
                    results_dir: Path | None = None, task_states: dict | None = None,
                    own_task_id: str | None = None, dbt_results: Iterable[list[dict] | None] = ()) -> dict:
    """Send the run's digest unless the alert ledger says it went out already; record it once Slack accepted it.

    Every table is in `catalog` (the settings' TRINO_CATALOG). Raises AlertDeliveryError when the webhook does not
    accept it (nothing recorded: the task's retry sends it). Returns `{"sent": bool, "digest": dict | None}`.
    """
    cur = trino_cursor
    ledger = ensure_ledger(cur, ledger_schema, catalog)
    key = digest_key(dag_id, run_id)
    if already_sent(cur, KIND, [key], ledger_schema, catalog):
        log.info("the digest of run %s went out already", run_id)
        return {"sent": False, "digest": None}
    digest = gather(cur, dag_id, run_id, sources=sources, catalog=catalog,
                    raw_schema=check_identifier(raw_schema),
                    staging_schema=staging_schema, ledger=ledger,
                    anomaly_table=anomaly_table or anomaly_table_name(catalog), results_dir=results_dir,
                    task_states=task_states, own_task_id=own_task_id, dbt_results=dbt_results)
    message_id = str(uuid.uuid4())
    row = {"alert_key": key, "severity": SEVERITY, "dag_run_id": run_id, "message_id": message_id}
    deliver(cur, slack_hook(slack_conn_id), digest_message(digest, run_url, message_id), KIND, [row], ledger_schema,
            catalog)
    return {"sent": True, "digest": digest}
