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
                                 run_url(dag_id, run_id), cap=settings.alerts.cap, catalog=settings.trino_catalog)
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
                                cap=settings.alerts.cap)
    result["parked_notices_sent"] = _deliver_parked(settings)
    # Counts only: file keys, codes and row numbers are in the Slack message, values nowhere.
    log.info("reject alerts of run %s: %d files, %d row batches (%d rows), %d parked failure notices", run_id,
             result["files_sent"], result["row_batches_sent"], result["rows_sent"], result["parked_notices_sent"])
    return result
