"""Task callables of the pipeline DAG. Heavy imports stay inside functions so the DAG file parses fast.

Each takes the settings its task built (`get_settings()` in the task), never the ones of the parse.
"""

from __future__ import annotations

import logging
from typing import Any

from include.settings import Settings

log = logging.getLogger(__name__)


def ingest_source(settings: Settings, source: str, run_id: str, ds: str) -> dict[str, Any]:
    """Load the new landing files of `source` for day `ds` and earlier (late deliveries) and report them."""
    from include.ingestion.loader import load

    report = load(settings, sources=[source], batch_id=run_id, up_to=ds)
    for f in report.files:
        if f.status in ("quarantined", "reported"):
            # The code only: the loader's detail after it may quote the file's content.
            log.warning("REJECTED %s: %s", f.key, _reason_code(f.reason))
        elif f.status == "loaded":
            log.info("loaded %s: %d rows", f.key, f.rows)
    summary = {
        "source": source,
        "loaded_files": report.count("loaded"),
        "rows_loaded": report.rows_loaded,
        "skipped_files": report.count("skipped"),
        "rejected_files": [{"key": f.key, "etag": f.etag, "source": f.source, "reason": _reason_code(f.reason)}
                           for f in report.rejected()],
    }
    log.info("%s: %d files loaded (%d rows), %d skipped, %d rejected", source, summary["loaded_files"],
             summary["rows_loaded"], summary["skipped_files"], len(summary["rejected_files"]))
    return summary


def _reason_code(reason: str | None) -> str:
    from include.alerts.rejects import safe_code

    return safe_code(str(reason or "").split(":", 1)[0].strip()) or "unknown"


def _trino_cursor(settings: Settings):
    from airflow.providers.trino.hooks.trino import TrinoHook

    return TrinoHook(trino_conn_id=settings.pipeline.trino_conn_id).get_conn().cursor()


def _deliver_parked(settings: Settings) -> int:
    from include.alerts.delivery import RetryPolicy
    from include.alerts.failure import deliver_parked_notices
    from include.alerts.outbox import configured_outboxes

    return deliver_parked_notices(settings.pipeline.slack_conn_id, configured_outboxes(settings),
                                  RetryPolicy.from_settings(settings.alerts))


def run_url(dag_id: str, run_id: str) -> str:
    from urllib.parse import quote

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080").rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def alert_anomalies(settings: Settings, dag_id: str, run_id: str) -> dict[str, Any]:
    """Send each anomaly not alerted before, grouped by severity, then the failure notices parked while the webhook
    was down; re-runs and retries send nothing twice."""
    from include.alerts.anomalies import send_anomaly_alerts

    result = send_anomaly_alerts(_trino_cursor(settings), settings.pipeline.slack_conn_id, run_id,
                                 run_url(dag_id, run_id), cap=settings.alerts.cap, catalog=settings.trino_catalog,
                                 ledger_schema=settings.alerts.ledger_schema)
    result["parked_notices_sent"] = _deliver_parked(settings)
    return result


def alert_rejects(settings: Settings, dag_id: str, run_id: str) -> dict[str, Any]:
    """Alert on every landing file the ingest ledger quarantined or reported and every batch of rejected rows not
    alerted before, then post the failure notices parked while the webhook was down.

    Read from the tables, not from this run's XCom: files quarantined by a retried ingest, by a run that failed
    before alerting, or late for an earlier day are all found and alerted once.
    """
    from include.alerts.rejects import send_reject_alerts
    from include.ingestion.contract import COLUMNS

    result = send_reject_alerts(_trino_cursor(settings), settings.pipeline.slack_conn_id, run_id,
                                run_url(dag_id, run_id), sources=list(COLUMNS), catalog=settings.trino_catalog,
                                raw_schema=settings.raw_schema, row_threshold=settings.alerts.rejected_rows_threshold,
                                cap=settings.alerts.cap, ledger_schema=settings.alerts.ledger_schema)
    result["parked_notices_sent"] = _deliver_parked(settings)
    # Counts only: file keys, codes and row numbers are in the Slack message, values nowhere.
    log.info("reject alerts of run %s: %d files, %d row batches (%d rows), %d parked failure notices", run_id,
             result["files_sent"], result["row_batches_sent"], result["rows_sent"], result["parked_notices_sent"])
    return result


def _task_states(ti, dag_id: str, run_id: str) -> dict[str, str | None] | None:
    """This run's task states from Airflow (through the task runner), or None outside a running task."""
    if ti is None:
        return None
    try:
        return ti.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id)
    except Exception:  # noqa: BLE001 - the digest says what it cannot read rather than not going out
        log.warning("task states of run %s unavailable for the digest", run_id, exc_info=True)
        return None


def _dbt_xcom_results(ti) -> list:
    """The node results each dbt task pushed (include/pipeline/dbt_results.py), the producer's build first and the
    tasks that ran dbt alone after it: where no results folder is shared (Astro, Kubernetes), XCom holds them."""
    from include.pipeline.asset_metadata import RESULTS_XCOM_KEY

    if ti is None:
        return []
    ids = sorted((t for t in ti.task.dag.task_ids if t.startswith("dbt.")), key=lambda t: "producer" not in t)
    return ti.xcom_pull(task_ids=ids, key=RESULTS_XCOM_KEY) if ids else []


def run_digest(settings: Settings, dag_id: str, run_id: str, ti=None) -> dict[str, Any]:
    """Send the run's one digest (files, rows, dbt tests, anomalies, tasks, link) unless it went out already.

    Rebuilt from the ledgers, the tables and the saved dbt results on every try, so a retry, a cleared task or a
    run whose dbt build failed still sends one digest with what is known.
    """
    from include.alerts.digest import run_results_dir, send_run_digest
    from include.ingestion.contract import COLUMNS

    results_dir = run_results_dir(run_id, settings.dbt.results_dir)
    result = send_run_digest(_trino_cursor(settings), settings.pipeline.slack_conn_id, dag_id, run_id,
                             run_url(dag_id, run_id), sources=list(COLUMNS), catalog=settings.trino_catalog,
                             raw_schema=settings.raw_schema, ledger_schema=settings.alerts.ledger_schema,
                             results_dir=results_dir, task_states=_task_states(ti, dag_id, run_id),
                             own_task_id=getattr(ti, "task_id", None),
                             dbt_results=() if results_dir else _dbt_xcom_results(ti))
    log.info("digest of run %s: %s", run_id, "sent" if result["sent"] else "already sent, not sent again")
    return {"sent": result["sent"]}


def run_last(task) -> None:
    """Put `task` (an operator or a decorated task's output) after every task of its DAG that has none after it,
    so it runs once the whole run is done, whatever is added to the DAG before it."""
    op = getattr(task, "operator", task)
    for leaf in [t for t in op.dag.tasks if t is not op and not t.downstream_list]:
        leaf >> op
