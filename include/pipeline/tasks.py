"""Task callables of the pipeline DAG. Heavy imports stay inside functions so the DAG file parses fast."""

from __future__ import annotations

import logging
from typing import Any

from include.pipeline.config import (
    ALERT_CAP,
    REJECTED_ROWS_THRESHOLD,
    SLACK_CONN_ID,
    SOURCES,
    TRINO_CATALOG,
    TRINO_CONN_ID,
)

log = logging.getLogger(__name__)


def ingest_source(source: str, run_id: str, ds: str) -> dict[str, Any]:
    """Load the new landing files of `source` for day `ds` and earlier (late deliveries) and report them."""
    from include.ingestion.loader import load

    report = load(sources=[source], batch_id=run_id, up_to=ds)
    for f in report.files:
        if f.status == "rejected":
            log.warning("REJECTED %s: %s", f.key, f.reason)
        elif f.status == "loaded":
            log.info("loaded %s: %d rows", f.key, f.rows)
    summary = {
        "source": source,
        "loaded_files": report.count("loaded"),
        "rows_loaded": report.rows_loaded,
        "skipped_files": report.count("skipped"),
        "rejected_files": [{"key": f.key, "etag": f.etag, "source": f.source, "reason": f.reason}
                           for f in report.rejected()],
    }
    log.info("%s: %d files loaded (%d rows), %d skipped, %d rejected", source, summary["loaded_files"],
             summary["rows_loaded"], summary["skipped_files"], len(summary["rejected_files"]))
    return summary


def _trino_cursor():
    from airflow.providers.trino.hooks.trino import TrinoHook

    return TrinoHook(trino_conn_id=TRINO_CONN_ID).get_conn().cursor()


def run_url(dag_id: str, run_id: str) -> str:
    from urllib.parse import quote

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080").rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def alert_anomalies(dag_id: str, run_id: str) -> dict[str, Any]:
    """Send each anomaly not alerted before, grouped by severity; re-runs and retries send nothing twice."""
    from include.alerts.anomalies import send_anomaly_alerts

    return send_anomaly_alerts(_trino_cursor(), SLACK_CONN_ID, run_id, run_url(dag_id, run_id), cap=ALERT_CAP)


def rejected_row_counts(cursor, ds: str) -> dict[str, int]:
    """Rejected records per source among the rows delivered for landing day `ds`."""
    counts = {}
    for source in SOURCES:
        cursor.execute(
            f"select count(*) from {TRINO_CATALOG}.staging.stg_{source}_rejected where _source_file like ?",
            [f"%/{source}/dt={ds}/%"],
        )
        counts[source] = cursor.fetchone()[0]
    return counts


def alert_rejects(dag_id: str, run_id: str, ds: str, ingest_summaries: list[dict]) -> dict[str, Any]:
    """Alert on files quarantined by this run's ingestion and on rejected-row counts above the threshold."""
    from include.alerts.rejects import send_reject_alerts

    cursor = _trino_cursor()
    files = [f for summary in ingest_summaries if summary for f in summary["rejected_files"]]
    rows = rejected_row_counts(cursor, ds)
    log.info("rejected files this run: %d; rejected rows for %s: %s", len(files), ds, rows)
    return send_reject_alerts(cursor, SLACK_CONN_ID, run_id, run_url(dag_id, run_id), rejected_files=files,
                              rejected_rows=rows, row_threshold=REJECTED_ROWS_THRESHOLD, ds=ds)
