"""Slack Block Kit messages for anomalies and rejected data, as pure functions of plain rows.

Every builder returns `{"text": ..., "blocks": [...]}` ready for `SlackWebhookHook.send(**message)`, within
Slack's limits: at most 50 blocks, section text up to 3000 characters, header text up to 150.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from urllib.parse import quote

# Most urgent first: one message per severity, sent in this order.
SEVERITY_ORDER = ("critical", "high", "medium", "low")
SEVERITY_EMOJI = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:",
                  "low": ":large_yellow_circle:"}

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_REASON = 500
# Ids, keys and URIs: long enough for any real one, short enough that the reason still fits in the section.
MAX_ID = 300
# Header, context, summary and run link take four blocks; the rest may list items.
MAX_ITEMS = MAX_BLOCKS - 4


def escape(text: object) -> str:
    """Slack mrkdwn treats &, < and > as markup; data (reasons, keys) must not open links or mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code(text: object, limit: int = MAX_ID) -> str:
    # A backtick inside would end the inline code early.
    return f"`{escape(truncate(str(text), limit)).replace('`', chr(39))}`"


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_TEXT), "emoji": True}}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}}


def context_block(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}]}


def link(url: str, label: str) -> str:
    """A mrkdwn link; `|` and `>` would end Slack's <url|label> syntax early, so they are percent-encoded."""
    if not url:
        return escape(label)
    return f"<{quote(url, safe=':/?&=#%+@,;~')}|{escape(label)}>"


def run_link(base_url: str, dag_id: str, run_id: str) -> str:
    """The Airflow 3 UI address of a DAG run (what `ti.log_url` is built from, minus the task)."""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def counts_text(counter: Counter) -> str:
    """`rule ×3, other ×1`, largest first, so the summary line says what the hidden items are."""
    return ", ".join(f"{name} ×{n}" for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def group_by_severity(anomalies: Iterable[dict]) -> list[tuple[str, list[dict]]]:
    """Anomalies grouped by severity, most urgent first, highest score first within a group.

    A severity outside the known four still gets its message, after the known ones, rather than being dropped.
    """
    groups: dict[str, list[dict]] = {}
    for row in anomalies:
        groups.setdefault(str(row.get("severity") or "unknown"), []).append(row)
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    ordered = sorted(groups, key=lambda s: (rank.get(s, len(rank)), s))
    return [(s, sorted(groups[s], key=lambda r: -(r.get("score") or 0.0))) for s in ordered]


def _when(value) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "isoformat") else str(value)


def anomaly_line(row: dict) -> str:
    """One anomaly: rule and score, the transaction it concerns, and the rule's reason."""
    figures = f"score {row['score']:.2f}" if isinstance(row.get("score"), (int, float)) else "score n/a"
    if row.get("amount") is not None:
        figures = f"amount {row['amount']} · {figures}"
    return (
        f"*{escape(row.get('rule'))}* · {figures}\n"
        f"Transaction {code(row.get('transaction_id'))} · client {code(row.get('client_id'))}"
        f" · asset {code(row.get('asset_id'))} · executed {escape(_when(row.get('executed_at')))}\n"
        f"> {escape(truncate(str(row.get('reason') or ''), MAX_REASON))}"
    )


def _capped(items: list[dict], cap: int) -> tuple[list[dict], list[dict]]:
    cap = max(1, min(cap, MAX_ITEMS))
    return items[:cap], items[cap:]


def _footer(hidden: list[dict], key: str, run_id: str, run_url: str, noun: str) -> list[dict]:
    blocks = []
    if hidden:
        more = counts_text(Counter(str(r.get(key)) for r in hidden))
        blocks.append(section(f"… and {len(hidden)} more {noun} ({escape(more)})"))
    blocks.append(section(f"{link(run_url, f'Open the Airflow run {run_id}')} for the full list and the task logs."))
    return blocks


def anomaly_message(severity: str, anomalies: list[dict], run_id: str, run_url: str, message_id: str,
                    cap: int = 20) -> dict:
    """One Slack message for the anomalies of one severity: the first `cap` listed, the rest counted by rule."""
    shown, hidden = _capped(anomalies, cap)
    emoji = SEVERITY_EMOJI.get(severity, ":grey_question:")
    title = f"{plural(len(anomalies), f'{severity} anomaly', f'{severity} anomalies')} detected"
    blocks = [
        header(f"{emoji} {title}"),
        context_block(f"Run {code(run_id)} · alert {code(message_id)}"),
        *(section(anomaly_line(row)) for row in shown),
        *_footer(hidden, "rule", run_id, run_url, "anomalies"),
    ]
    text = f"{title} in run {run_id}: {run_url}" if run_url else f"{title} in run {run_id}"
    return {"text": text, "blocks": blocks}


def rejected_file_line(f: dict) -> str:
    """One rejected landing object: where it is and its reason code. The loader's free-text detail is never shown,
    since it is the one field that could quote the file's content."""
    state = "Quarantined at " + code(f["quarantine_uri"]) if f.get("quarantine_uri") else "Not loaded"
    day = f" · day {code(f['landing_day'])}" if f.get("landing_day") else ""
    return (
        f"*{escape(f.get('source') or 'unknown source')}* {code(f.get('key'))} (etag {code(f.get('etag'))}){day}\n"
        f"{escape(f.get('status') or 'quarantined').capitalize()}: {code(f.get('reason_code') or 'unknown')}\n"
        f"{state}"
    )


def rejected_files_message(files: list[dict], run_id: str, run_url: str, message_id: str, cap: int = 20) -> dict:
    """One message for newly quarantined or reported landing objects: each with its reason code and where it is."""
    shown, hidden = _capped(files, cap)
    title = f"{plural(len(files), 'landing file', 'landing files')} rejected"
    blocks = [
        header(f":no_entry: {title}"),
        context_block(f"Run {code(run_id)} · alert {code(message_id)} · the originals stay in landing"),
        *(section(rejected_file_line(f)) for f in shown),
        *_footer(hidden, "source", run_id, run_url, "files"),
    ]
    return {"text": f"{title} in run {run_id}", "blocks": blocks}


def rejected_batch_line(b: dict) -> str:
    """One batch of rejected rows: its file and load batch, the count per rule and column, the first row numbers."""
    rules = ", ".join(f"{code(rule)}{f' on {code(column)}' if column else ''} ×{n}"
                      for (rule, column), n in sorted(b["rules"].items(), key=lambda kv: (-kv[1], str(kv[0]))))
    sample = b.get("sample_rows", [])
    rows = f"\nRows {', '.join(str(int(r)) for r in sample)}{'…' if len(sample) < b['rows'] else ''}" if sample else ""
    return (
        f"*{escape(b['source'])}* {code(b.get('source_file'))} · batch {code(b.get('batch_id') or 'n/a')}\n"
        f"{plural(b['rows'], 'row', 'rows')} rejected: {rules}{rows}"
    )


def rejected_batches_message(batches: list[dict], run_id: str, run_url: str, message_id: str, cap: int = 20) -> dict:
    """One message for new batches of rejected rows (one batch per source file and load), listed up to `cap`."""
    shown, hidden = _capped(batches, cap)
    total = sum(b["rows"] for b in batches)
    title = f"{plural(total, 'row', 'rows')} rejected in {plural(len(batches), 'file', 'files')}"
    blocks = [
        header(f":warning: {title}"),
        context_block(f"Run {code(run_id)} · alert {code(message_id)} · the rows are kept in "
                      f"{code('stg_<source>_rejected')}"),
        *(section(rejected_batch_line(b)) for b in shown),
        *_footer(hidden, "source", run_id, run_url, "files"),
    ]
    return {"text": f"{title} in run {run_id}", "blocks": blocks}


# The run digest: one summary message per DAG run. Its text always starts with this, so readers (the main job's
# report, the tests) tell it from the alerts.
DIGEST_PREFIX = "Run digest"
# Failed task and test names listed in the digest; the rest are counted.
DIGEST_NAMES = 10
_FILE_STATES = ("loaded", "quarantined", "reported")


def _number(n: int) -> str:
    return f"{n:,}"


def _names(names: list[str], cap: int = DIGEST_NAMES) -> str:
    shown = ", ".join(code(n) for n in names[:cap])
    return shown + (f" and {len(names) - cap} more" if len(names) > cap else "")


def _source_line(source: str, s: dict) -> str:
    files = f"{plural(s.get('files_loaded', 0), 'file', 'files')} loaded"
    set_aside = [f"{s[k]} {k.removeprefix('files_')}" for k in ("files_quarantined", "files_reported") if s.get(k)]
    files += f" ({', '.join(set_aside)})" if set_aside else ""
    return (f"• *{escape(source)}*: {files} · {_number(s.get('rows_loaded', 0))} rows loaded · "
            f"{_number(s.get('rows_rejected', 0))} rejected")


def digest_totals(digest: dict) -> dict[str, int]:
    """Files per outcome and rows loaded and rejected, over every source."""
    sources = digest.get("sources") or {}
    totals = {f"files_{state}": sum(s.get(f"files_{state}", 0) for s in sources.values()) for state in _FILE_STATES}
    for key in ("rows_loaded", "rows_rejected"):
        totals[key] = sum(s.get(key, 0) for s in sources.values())
    return totals


def digest_ingestion_section(digest: dict) -> str:
    t = digest_totals(digest)
    lines = [f"*Ingestion*: {plural(t['files_loaded'], 'file', 'files')} loaded, "
             f"{t['files_quarantined']} quarantined, {t['files_reported']} reported · "
             f"{_number(t['rows_loaded'])} rows loaded, {_number(t['rows_rejected'])} rejected"]
    lines += [_source_line(source, s) for source, s in sorted((digest.get("sources") or {}).items())]
    return "\n".join(lines)


def digest_dbt_section(dbt: dict | None) -> str:
    """Tests passed and failed (errors and warnings apart), models built, and the names of what failed."""
    if not dbt:
        return "*dbt*: no results recorded for this run (dbt did not run, or its results were not kept)"
    tests, models = dbt.get("tests", {}), dbt.get("models", {})
    line = f"*dbt tests*: {tests.get('pass', 0)} passed, {tests.get('fail', 0)} failed"
    line += "".join(f", {tests[k]} {label}" for k, label in (("error", "errored"), ("warn", "warned"),
                                                            ("skipped", "skipped")) if tests.get(k))
    line += f" · *models*: {models.get('success', 0)} built"
    line += "".join(f", {models[k]} {label}" for k, label in (("error", "failed"), ("skipped", "skipped"))
                    if models.get(k))
    if dbt.get("failed"):
        line += f"\nFailed: {_names(dbt['failed'])}"
    return line


def digest_anomaly_section(anomalies: list[dict]) -> str:
    """New anomalies counted by severity (most urgent first), each severity's count split by rule."""
    if not anomalies:
        return "*Anomalies*: none new"
    lines = [f"*Anomalies*: {sum(a['count'] for a in anomalies)} new"]
    for severity, rows in group_by_severity(anomalies):
        by_rule = Counter()
        for row in rows:
            by_rule[str(row.get("rule"))] += row["count"]
        lines.append(f"{SEVERITY_EMOJI.get(severity, ':grey_question:')} *{escape(severity)}* "
                     f"{sum(by_rule.values())}: {escape(counts_text(by_rule))}")
    return "\n".join(lines)


def digest_tasks_section(tasks: dict | None, failed: list[str]) -> str | None:
    if not tasks:
        return None
    line = "*Tasks*: " + ", ".join(f"{n} {escape(str(state).replace('_', ' '))}"
                                   for state, n in sorted(tasks.items(), key=lambda kv: (-kv[1], str(kv[0]))))
    return line + (f"\nFailed: {_names(failed)}" if failed else "")


def digest_headline(digest: dict) -> tuple[str, str]:
    """The emoji and one-line verdict: something failed, something was set aside, or a clean run."""
    t, dbt = digest_totals(digest), digest.get("dbt") or {}
    tests = dbt.get("tests", {})
    if digest.get("failed_tasks") or tests.get("fail") or tests.get("error") or dbt.get("models", {}).get("error"):
        return ":x:", "with failures"
    if t["files_quarantined"] or t["files_reported"] or t["rows_rejected"]:
        return ":warning:", "with rejected input"
    return ":white_check_mark:", "clean"


def digest_text(digest: dict, run_url: str) -> str:
    """The notification text (and the whole message where blocks are not shown)."""
    t, dbt = digest_totals(digest), digest.get("dbt") or {}
    tests = dbt.get("tests", {})
    text = (f"{DIGEST_PREFIX} of {digest['dag_id']} run {digest['run_id']} ({digest_headline(digest)[1]}): "
            f"{t['files_loaded']} files loaded, {t['files_quarantined']} quarantined; "
            f"{t['rows_loaded']} rows loaded, {t['rows_rejected']} rejected; "
            + (f"dbt tests {tests.get('pass', 0)} passed, {tests.get('fail', 0)} failed; " if dbt
               else "no dbt results; ")
            + f"{sum(a['count'] for a in digest.get('anomalies') or [])} new anomalies")
    return f"{text}: {run_url}" if run_url else text


def digest_message(digest: dict, run_url: str, message_id: str) -> dict:
    """The one summary message of a DAG run, from `digest` (include/alerts/digest.py gathers it): counts, codes
    and names only, so no delivered value can reach it."""
    emoji, verdict = digest_headline(digest)
    blocks = [
        header(f"{emoji} {DIGEST_PREFIX}: {digest['dag_id']} ({verdict})"),
        context_block(f"Run {code(digest['run_id'])} · digest {code(message_id)}"),
        section(digest_ingestion_section(digest)),
        section(digest_dbt_section(digest.get("dbt"))),
        section(digest_anomaly_section(digest.get("anomalies") or [])),
    ]
    tasks = digest_tasks_section(digest.get("tasks"), digest.get("failed_tasks") or [])
    if tasks:
        blocks.append(section(tasks))
    if digest.get("unavailable"):
        blocks.append(context_block(f"Could not be read: {', '.join(escape(u) for u in digest['unavailable'])}"))
    blocks.append(section(link(run_url, f"Open the Airflow run {digest['run_id']}")))
    return {"text": digest_text(digest, run_url), "blocks": blocks}
