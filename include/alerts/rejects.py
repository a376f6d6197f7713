"""Slack alerts for rejected data, read from tables rather than from a run's XCom, each sent once through the ledger.

- Files: every landing object the ingest ledger (`<catalog>.<raw_schema>.ingest_ledger`) marks `quarantined` or
  `reported`, keyed `<landing_key>.<etag>`, so a corrected file delivered under the same name is a new delivery.
- Rows: every batch of rows in the `stg_<source>_rejected` models, one batch per source file and load batch, keyed
  `rejected_rows:<source>:<file>:<batch_id>`; a late file for an earlier day is a batch like any other.

Whatever failed before (an ingest retry, a run that died before alerting), the next call finds what was never
alerted, because the tables outlive the run. Only codes, column names, row numbers and counts are read: no
delivered value or reason detail is selected, so none can reach Slack or a log.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable

from include.alerts.ledger import check_identifier, deliver, ensure_ledger, literal, slack_hook
from include.alerts.messages import rejected_batches_message, rejected_files_message

# A whole delivery failed to load: more urgent than some rows of one being set aside.
FILE_SEVERITY = "high"
ROWS_SEVERITY = "medium"
INGEST_LEDGER = "ingest_ledger"
ALERTED_STATUSES = ("quarantined", "reported")
# Row numbers listed per batch; the counts cover the rest.
ROW_SAMPLE = 10
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def safe_code(value: object) -> str | None:
    """A reason code, rule or column name as it may be shown: a plain lower-case identifier, anything else hidden."""
    if value is None:
        return None
    text = str(value)
    return text if _CODE.match(text) else "unrecognised"


def _run(cur, sql: str) -> list:
    cur.execute(sql)
    return cur.fetchall()


def existing_tables(cur, catalog: str, tables: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of the (schema, table) pairs that exist in `catalog`: a table not created yet means nothing to alert."""
    tables = set(tables)
    schemas, names = sorted({s for s, _ in tables}), sorted({n for _, n in tables})
    rows = _run(cur, f"select table_schema, table_name from {check_identifier(catalog)}.information_schema.tables "
                     f"where table_schema in ({', '.join(map(literal, schemas))}) "
                     f"and table_name in ({', '.join(map(literal, names))})")
    return {(r[0], r[1]) for r in rows} & tables


def file_alert_key(key: str, etag: str | None) -> str:
    """The quarantine key the loader writes a rejected file under: `<landing key>.<etag>`."""
    return f"{key}.{etag or ''}"


def pending_files(cur, catalog: str, raw_schema: str, ledger: str) -> list[dict]:
    """Quarantined or reported landing objects with no `rejected_file` alert yet, oldest first."""
    table = f"{catalog}.{check_identifier(raw_schema)}.{INGEST_LEDGER}"
    # Racing loaders may record one object twice: its state is its strongest row (loaded > quarantined > reported).
    strength = "case i.status when 'loaded' then 3 when 'quarantined' then 2 when 'reported' then 1 else 0 end"
    rows = _run(cur, f"""
        select i.landing_key, i.etag, max_by(i.status, {strength}), arbitrary(i.source), arbitrary(i.landing_day),
               max_by(i.reason_code, {strength}), max_by(i.quarantine_uri, {strength}), min(i.recorded_at)
        from {table} i
        where not exists (select 1 from {ledger} l where l.alert_kind = 'rejected_file'
                          and l.alert_key = i.landing_key || '.' || coalesce(i.etag, ''))
        group by i.landing_key, i.etag
        having max_by(i.status, {strength}) in ({', '.join(map(literal, ALERTED_STATUSES))})
        order by min(i.recorded_at), i.landing_key""")
    names = ("key", "etag", "status", "source", "landing_day", "reason_code", "quarantine_uri")
    return [{**dict(zip(names, r[:7], strict=True)), "source": safe_code(r[3]), "reason_code": safe_code(r[5])}
            for r in rows]


def rows_alert_key(source: str, source_file: str, batch_id: str | None) -> str:
    return f"rejected_rows:{source}:{source_file}:{batch_id or ''}"


def _pending_rows_sql(table: str, source: str, ledger: str) -> str:
    key = f"'rejected_rows:{source}:' || r._source_file || ':' || coalesce(r._batch_id, '')"
    return f"""
        select '{source}', r._source_file, r._batch_id, r.rejection_rule, r.rejected_column, count(*),
               slice(array_sort(array_agg(r._source_row)), 1, {ROW_SAMPLE})
        from {table} r
        where not exists (select 1 from {ledger} l where l.alert_kind = 'rejected_rows' and l.alert_key = {key})
        group by r._source_file, r._batch_id, r.rejection_rule, r.rejected_column"""


def pending_row_batches(cur, catalog: str, staging_schema: str, sources: Iterable[str], ledger: str) -> list[dict]:
    """Batches of rejected rows with no `rejected_rows` alert yet in the given sources' models: source, file,
    batch, rules with their columns and counts, the first row numbers, and the total. One query for all sources."""
    tables = [f"{catalog}.{check_identifier(staging_schema)}.stg_{check_identifier(s)}_rejected" for s in sources]
    if not tables:
        return []
    sql = " union all ".join(_pending_rows_sql(t, s, ledger) for t, s in zip(tables, sources, strict=True))
    batches: dict[tuple, dict] = {}
    for source, file, batch_id, rule, column, n, sample in _run(cur, sql):
        b = batches.setdefault((source, file, batch_id), {"source": source, "source_file": file,
                                                         "batch_id": batch_id, "rows": 0, "rules": {},
                                                         "sample_rows": []})
        b["rows"] += n
        rule_key = (safe_code(rule) or "unknown", safe_code(column))
        b["rules"][rule_key] = b["rules"].get(rule_key, 0) + n
        b["sample_rows"] = sorted({*b["sample_rows"], *(int(x) for x in sample if x is not None)})[:ROW_SAMPLE]
    return sorted(batches.values(), key=lambda b: (b["source"], b["source_file"] or "", b["batch_id"] or ""))


def _alert(cur, client, kind, items, keyed, severity, run_id, message, ledger_schema, catalog) -> int:
    if not items:
        return 0
    message_id = str(uuid.uuid4())
    rows = [{"alert_key": keyed(i), "severity": severity, "dag_run_id": run_id, "message_id": message_id}
            for i in items]
    deliver(cur, client(), message(message_id), kind, rows, ledger_schema, catalog)
    return len(items)


def send_reject_alerts(trino_cursor, slack_conn_id: str, run_id: str, run_url: str, *, sources: Iterable[str],
                       catalog: str, raw_schema: str, row_threshold: int = 0, cap: int = 20,
                       staging_schema: str = "staging", ledger_schema: str = "ops") -> dict:
    """Alert Slack about every rejected file and every batch of rejected rows never alerted before.

    One message for the files, then one for the row batches whose count is above `row_threshold` (a batch at or
    under it stays unalerted and is looked at again next time). Each message is recorded right after Slack
    accepted it. Raises AlertDeliveryError when the webhook does not accept a message, recording nothing for it.
    Every table is in `catalog` (the settings' TRINO_CATALOG); the ingest ledger is in `raw_schema`.
    """
    cur = trino_cursor
    ledger = ensure_ledger(cur, ledger_schema, catalog)
    # Built on first use: a run with nothing new needs no Slack connection at all.
    client = functools.cache(functools.partial(slack_hook, slack_conn_id))

    sources = [check_identifier(s) for s in sources]
    models = [(staging_schema, f"stg_{s}_rejected") for s in sources]
    present = existing_tables(cur, catalog, [(raw_schema, INGEST_LEDGER), *models])
    files = pending_files(cur, catalog, raw_schema, ledger) if (raw_schema, INGEST_LEDGER) in present else []
    files_sent = _alert(cur, client, "rejected_file", files, lambda f: file_alert_key(f["key"], f["etag"]),
                        FILE_SEVERITY, run_id,
                        lambda m: rejected_files_message(files, run_id, run_url, m, cap=cap), ledger_schema, catalog)
    with_model = [s for s in sources if (staging_schema, f"stg_{s}_rejected") in present]
    batches = [b for b in pending_row_batches(cur, catalog, staging_schema, with_model, ledger)
               if b["rows"] > row_threshold]
    batches_sent = _alert(cur, client, "rejected_rows", batches,
                          lambda b: rows_alert_key(b["source"], b["source_file"], b["batch_id"]), ROWS_SEVERITY,
                          run_id, lambda m: rejected_batches_message(batches, run_id, run_url, m, cap=cap),
                          ledger_schema, catalog)
    return {"files_sent": files_sent, "row_batches_sent": batches_sent,
            "rows_sent": sum(b["rows"] for b in batches),
            "messages_sent": int(files_sent > 0) + int(batches_sent > 0)}
