"""Slack alerts for rejected data: each quarantined landing file once, and rejected-row counts above a threshold
once per source and day.

A file is keyed by its quarantine key (`<key>.<etag>`), so a corrected file delivered under the same name is a new
delivery and is alerted again if it too is rejected. Row counts are keyed `rejected_rows:<source>:<ds>`.
"""

from __future__ import annotations

import functools
import uuid

from include.alerts.ledger import already_sent, deliver, ensure_ledger, slack_hook
from include.alerts.messages import rejected_files_message, rejected_rows_message

# A whole delivery failed to load: more urgent than some rows of one being set aside.
FILE_SEVERITY = "high"
ROWS_SEVERITY = "medium"


def file_alert_key(f: dict) -> str:
    """The quarantine key the loader writes the file under (see include.ingestion.loader.quarantine_key)."""
    return f"{f['key']}.{f['etag']}"


def rows_alert_key(source: str, ds: str) -> str:
    return f"rejected_rows:{source}:{ds}"


def _with_quarantine_uri(f: dict) -> dict:
    # The loader copies a rejected file to the quarantine bucket under its alert key; callers need not repeat it.
    if f.get("quarantine_uri"):
        return f
    from include.settings import get_settings

    return {**f, "quarantine_uri": f"s3://{get_settings().quarantine_bucket}/{file_alert_key(f)}"}


def _alert_files(cur, hook, run_id, run_url, rejected_files, cap, schema) -> tuple[int, int]:
    files = list({file_alert_key(f): _with_quarantine_uri(f) for f in rejected_files}.values())
    if not files:
        return 0, 0
    seen = already_sent(cur, "rejected_file", [file_alert_key(f) for f in files], schema)
    new = [f for f in files if file_alert_key(f) not in seen]
    if new:
        message_id = str(uuid.uuid4())
        rows = [{"alert_key": file_alert_key(f), "severity": FILE_SEVERITY, "dag_run_id": run_id,
                 "message_id": message_id} for f in new]
        deliver(cur, hook(), rejected_files_message(new, run_id, run_url, message_id, cap=cap),
                "rejected_file", rows, schema)
    return len(new), len(seen)


def _alert_rows(cur, hook, run_id, run_url, rejected_rows, threshold, ds, schema) -> tuple[list[str], list[str]]:
    over = {source: n for source, n in rejected_rows.items() if n > threshold}
    if not over:
        return [], []
    seen = already_sent(cur, "rejected_rows", [rows_alert_key(s, ds) for s in over], schema)
    new = {s: n for s, n in over.items() if rows_alert_key(s, ds) not in seen}
    if new:
        message_id = str(uuid.uuid4())
        rows = [{"alert_key": rows_alert_key(s, ds), "severity": ROWS_SEVERITY, "dag_run_id": run_id,
                 "message_id": message_id} for s in new]
        deliver(cur, hook(), rejected_rows_message(new, threshold, ds, run_id, run_url, message_id),
                "rejected_rows", rows, schema)
    return sorted(new), sorted(s for s in over if s not in new)


def send_reject_alerts(trino_cursor, slack_conn_id: str, run_id: str, run_url: str, rejected_files: list[dict],
                       rejected_rows: dict[str, int], row_threshold: int, ds: str, *, cap: int = 20,
                       ledger_schema: str = "ops") -> dict:
    """Alert Slack about rejected files and rejected-row counts not alerted before; one message for each kind.

    `rejected_files` are dicts with key, etag, source, reason and optionally quarantine_uri (default: where the
    loader copies it); `rejected_rows` maps a source to the rows rejected on `ds`, alerted when above
    `row_threshold`. The files' message is recorded before the rows' one is sent. Raises AlertDeliveryError when the
    webhook does not accept a message, recording nothing for it.
    """
    ensure_ledger(trino_cursor, ledger_schema)
    # Built on first use: a run with nothing new needs no Slack connection at all.
    hook = functools.cache(functools.partial(slack_hook, slack_conn_id))

    files_sent, files_seen = _alert_files(trino_cursor, hook, run_id, run_url, rejected_files, cap, ledger_schema)
    rows_sent, rows_seen = _alert_rows(trino_cursor, hook, run_id, run_url, rejected_rows, row_threshold, ds,
                                       ledger_schema)
    return {"files_sent": files_sent, "files_already_alerted": files_seen,
            "row_sources_sent": rows_sent, "row_sources_already_alerted": rows_seen,
            "messages_sent": int(files_sent > 0) + int(bool(rows_sent))}
