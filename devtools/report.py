"""The main job's closing report: rows per layer, rejects, dbt test results, anomalies by rule, alerts sent."""

from __future__ import annotations

import json
import re
from pathlib import Path

from include.alerts.messages import DIGEST_PREFIX
from include.settings import Settings, get_settings, s3_client, trino_connection

LAYERS = {
    "raw": ("lakehouse", ["assets", "clients", "transactions"]),
    "staging": ("staging", ["stg_assets", "stg_clients", "stg_transactions"]),
    "rejected rows": ("staging", ["stg_assets_rejected", "stg_clients_rejected", "stg_transactions_rejected"]),
    "marts": ("marts", ["dim_assets", "dim_clients", "fact_transactions"]),
    "analytics": ("analytics", ["client_investment_summary", "asset_performance_analysis",
                                "transaction_anomaly_detection"]),
}


def _scalar(cur, sql: str):
    try:
        cur.execute(sql)
        return cur.fetchall()
    except Exception as exc:  # noqa: BLE001 - a missing table is reported, not fatal
        return f"unavailable ({getattr(exc, 'message', exc)})"


def table_counts(settings: Settings) -> dict[str, dict[str, int | str]]:
    cur = trino_connection(settings).cursor()
    counts = {}
    for layer, (schema, tables) in LAYERS.items():
        schema = settings.raw_schema if layer == "raw" else schema
        counts[layer] = {}
        for table in tables:
            rows = _scalar(cur, f"select count(*) from {settings.trino_catalog}.{schema}.{table}")
            counts[layer][table] = rows[0][0] if isinstance(rows, list) else rows
    return counts


def anomalies_by_rule(settings: Settings) -> dict[str, int] | str:
    cur = trino_connection(settings).cursor()
    rows = _scalar(cur, f"select rule, count(*) from {settings.trino_catalog}.analytics.transaction_anomaly_detection "
                        "group by rule order by rule")
    return dict(rows) if isinstance(rows, list) else rows


def rejected_files(settings: Settings) -> list[dict]:
    client = s3_client(settings)
    docs = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.quarantine_bucket):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".reason.json"):
                body = client.get_object(Bucket=settings.quarantine_bucket, Key=obj["Key"])["Body"].read()
                docs.append(json.loads(body))
    return docs


def reconciliation(settings: Settings) -> list[str]:
    """Per landing day: delivered = loaded + quarantined + reported (include/ingestion/reconcile.py)."""
    from include.ingestion.ledger import landing_day
    from include.ingestion.raw_tables import catalog
    from include.ingestion.reconcile import reconcile_day

    try:
        client, cat, days = s3_client(settings), catalog(settings), set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.landing_bucket):
            days |= {landing_day(o["Key"]) for o in page.get("Contents", [])} - {None}
        return [reconcile_day(day, settings, client, cat).line() for day in sorted(days)]
    except Exception as exc:  # noqa: BLE001 - the report shows what it cannot compute
        return [f"unavailable ({exc})"]


def _received(settings: Settings) -> list[dict]:
    from devtools.receiver import read_messages

    return [m["payload"] for m in read_messages(settings)]


def alerts_delivered(settings: Settings) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for payload in _received(settings):
        text = payload.get("text", "")
        # A digest names failures and rejects too: it is told apart first, by its fixed opening.
        kind = ("digest" if text.startswith(DIGEST_PREFIX) else "failure" if "failed" in text.lower()
                else "anomalies" if "anomal" in text.lower() else "rejects" if "reject" in text.lower() else "other")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def plain(mrkdwn: str) -> str:
    """Slack mrkdwn as terminal text: links as their label, no bold or code marks, entities decoded."""
    text = re.sub(r"<[^|>]*\|([^>]*)>", r"\1", mrkdwn).replace("*", "").replace("`", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def digests(settings: Settings, run_ids: list[str] | None = None) -> list[list[str]]:
    """Each run digest the receiver got (for `run_ids` only, when given) as lines of text, oldest first."""
    found = []
    for payload in _received(settings):
        text = payload.get("text", "")
        if not text.startswith(DIGEST_PREFIX) or (run_ids and not any(f" run {r} (" in text for r in run_ids)):
            continue
        blocks = payload.get("blocks", [])
        texts = [t for b in blocks for t in ([b["text"]["text"]] if "text" in b else
                                              [e["text"] for e in b.get("elements", [])])]
        found.append([line for text in texts for line in plain(text).splitlines()])
    return found


def render(settings: Settings | None = None, dbt_results: Path | None = None, runs: list[tuple] | None = None,
           run_ids: list[str] | None = None) -> str:
    from include.pipeline.dbt_results import summarise

    settings = settings or get_settings()
    lines = ["", "=" * 72, "Lakehouse pipeline report", "=" * 72]
    if runs:
        lines.append("DAG runs:")
        lines += [f"  {day}: {state}" for day, state in runs]
    for layer, tables in table_counts(settings).items():
        lines.append(f"{layer}:")
        lines += [f"  {table:<32} {count}" for table, count in tables.items()]
    files = rejected_files(settings)
    lines.append(f"rejected files (quarantined): {len(files)}")
    lines += [f"  {d['key']}: {d['reason']} ({d.get('detail', '')})" for d in files]
    lines.append("reconciliation per landing day (delivered = loaded + quarantined + reported):")
    lines += [f"  {line}" for line in reconciliation(settings)]
    if dbt_results and dbt_results.exists():
        counts = summarise(dbt_results)
        tests = {k.removeprefix("test_"): v for k, v in counts.items() if k.startswith("test_")}
        models = {k.removeprefix("model_"): v for k, v in counts.items() if k.startswith("model_")}
        lines.append(f"dbt tests: {tests or 'none recorded'}   dbt models: {models or 'none recorded'}")
    lines.append(f"anomalies by rule: {anomalies_by_rule(settings)}")
    lines.append(f"alerts delivered to {settings.slack_webhook_url and 'Slack' or 'the local receiver'}: "
                 f"{alerts_delivered(settings)}")
    for digest in digests(settings, run_ids):
        lines.append("-" * 72)
        lines += [f"  {line}" for line in digest]
    lines.append("=" * 72)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(dbt_results=get_settings().home / "dbt-results"))
