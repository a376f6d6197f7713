"""Slack messages as built, before any sending: severity order, capping, Block Kit limits, the failure template."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from include.alerts import messages
from include.alerts.failure import FAILURE_BLOCKS, FAILURE_TEXT, exception_summary, failure_notifier
from include.alerts.messages import (
    MAX_BLOCKS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    anomaly_message,
    group_by_severity,
    rejected_files_message,
)

RUN_ID = "scheduled__2024-05-01T00:00:00+00:00"
RUN_URL = "http://localhost:8080/dags/lakehouse/runs/scheduled__2024-05-01T00%3A00%3A00%2B00%3A00"


def anomaly(i: int, severity: str = "high", rule: str = "amount_outlier", score: float = 1.0, **extra) -> dict:
    return {"anomaly_id": f"a{i}", "transaction_id": f"t{i}", "client_id": f"c{i}", "asset_id": "BTC",
            "executed_at": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc), "rule": rule, "score": score,
            "severity": severity, "reason": f"reason {i}", **extra}


def texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", []) + b.get("elements", [])]
    return out


def assert_valid_block_kit(message: dict) -> None:
    """What Slack checks before accepting a message (the parts these messages use)."""
    assert message["text"], "a fallback text is needed for notifications"
    blocks = message["blocks"]
    assert 0 < len(blocks) <= MAX_BLOCKS
    for b in blocks:
        assert b["type"] in {"header", "section", "context", "divider"}
        if b["type"] == "header":
            assert b["text"]["type"] == "plain_text" and len(b["text"]["text"]) <= MAX_HEADER_TEXT
        if b["type"] == "section":
            assert "text" in b or "fields" in b
            if "text" in b:
                assert b["text"]["type"] == "mrkdwn" and 0 < len(b["text"]["text"]) <= MAX_SECTION_TEXT
            assert len(b.get("fields", [])) <= 10
        if b["type"] == "context":
            assert 0 < len(b["elements"]) <= 10
    json.dumps(message)  # the hook sends it as JSON


def test_groups_come_most_urgent_first_and_highest_score_first():
    rows = [anomaly(1, "low"), anomaly(2, "critical", score=2.0), anomaly(3, "medium"),
            anomaly(4, "critical", score=9.0), anomaly(5, "high")]
    groups = group_by_severity(rows)
    assert [s for s, _ in groups] == ["critical", "high", "medium", "low"]
    assert [a["anomaly_id"] for a in groups[0][1]] == ["a4", "a2"]


def test_only_present_severities_get_a_group_and_unknown_ones_come_last():
    groups = group_by_severity([anomaly(1, "weird"), anomaly(2, "low"), anomaly(3, None)])
    assert [s for s, _ in groups] == ["low", "unknown", "weird"]


def test_an_anomaly_section_shows_rule_transaction_client_asset_score_and_reason():
    msg = anomaly_message("high", [anomaly(7, score=4.25)], RUN_ID, RUN_URL, "m-1")
    body = "\n".join(texts(msg["blocks"]))
    for expected in ("amount_outlier", "`t7`", "`c7`", "`BTC`", "score 4.25", "reason 7", "2024-05-01 12:00:00"):
        assert expected in body
    assert_valid_block_kit(msg)


def test_a_long_list_is_capped_with_a_rule_summary_and_the_run_link():
    rows = [anomaly(i, "critical", rule="velocity_burst") for i in range(30)]
    rows += [anomaly(100 + i, "critical", rule="oversell") for i in range(5)]
    msg = anomaly_message("critical", rows, RUN_ID, RUN_URL, "m-1", cap=20)
    listed = [t for t in texts(msg["blocks"]) if t.startswith("*velocity_burst*") or t.startswith("*oversell*")]
    assert len(listed) == 20
    summary = [t for t in texts(msg["blocks"]) if t.startswith("… and")]
    assert summary == ["… and 15 more anomalies (velocity_burst ×10, oversell ×5)"]
    assert f"<{RUN_URL}|" in texts(msg["blocks"])[-1]
    assert "35 critical anomalies" in msg["blocks"][0]["text"]["text"]
    assert_valid_block_kit(msg)


def test_a_cap_above_what_slack_allows_still_fits_in_50_blocks():
    msg = anomaly_message("low", [anomaly(i, "low") for i in range(200)], RUN_ID, RUN_URL, "m-1", cap=500)
    assert_valid_block_kit(msg)
    assert "… and" in texts(msg["blocks"])[-2]


def test_huge_and_hostile_text_stays_within_limits_and_cannot_mention_or_link():
    row = anomaly(1, reason="<!channel> <http://evil|click> & " + "x" * 10_000, transaction_id="t`1" + "y" * 4000)
    msg = anomaly_message("high", [row], RUN_ID, RUN_URL, "m-1")
    assert_valid_block_kit(msg)
    body = "\n".join(texts(msg["blocks"]))
    assert "<!channel>" not in body and "<http://evil" not in body and "&lt;!channel&gt;" in body


def test_a_run_url_with_slack_link_syntax_is_encoded():
    assert messages.link("http://h/x|y>z", "run") == "<http://h/x%7Cy%3Ez|run>"
    assert messages.run_link("http://localhost:8080/", "dag", "manual__2024-05-01T00:00:00+00:00") == (
        "http://localhost:8080/dags/dag/runs/manual__2024-05-01T00%3A00%3A00%2B00%3A00")


EMAIL = "jane.doe+vip@example.org"


def rejected_file(i: int, **extra) -> dict:
    return {"key": f"transactions/dt=2024-05-01/f{i}.csv", "etag": f"e{i}", "status": "quarantined",
            "source": "transactions", "landing_day": "2024-05-01", "reason_code": "bad_header",
            "quarantine_uri": f"s3://quarantine/f{i}.csv.e{i}", **extra}


def test_rejected_files_message_lists_each_file_with_reason_code_and_quarantine_copy():
    files = [rejected_file(i) for i in range(3)]
    files[2] = {**files[2], "status": "reported", "reason_code": "bad_layout", "quarantine_uri": None}
    msg = rejected_files_message(files, RUN_ID, RUN_URL, "m-1", cap=2)
    body = "\n".join(texts(msg["blocks"]))
    assert "`transactions/dt=2024-05-01/f0.csv`" in body and "s3://quarantine/f1.csv.e1" in body
    assert "Quarantined: `bad_header`" in body and "day `2024-05-01`" in body
    assert "… and 1 more files (transactions ×1)" in body
    assert "3 landing files rejected" in msg["blocks"][0]["text"]["text"]
    assert_valid_block_kit(msg)
    reported = rejected_files_message(files[2:], RUN_ID, RUN_URL, "m-2")
    assert "Reported: `bad_layout`" in "\n".join(texts(reported["blocks"]))


def test_rejected_batches_message_names_file_batch_rules_columns_rows_and_counts():
    batch = {"source": "transactions", "source_file": "s3://landing/transactions/dt=2024-04-28/late.csv",
             "batch_id": "scheduled__2024-05-01", "rows": 12, "sample_rows": [3, 7, 9],
             "rules": {("unknown_currency", "currency"): 10, ("implausible_timestamp", "executed_at"): 2}}
    msg = messages.rejected_batches_message([batch], RUN_ID, RUN_URL, "m-1")
    body = "\n".join(texts(msg["blocks"]))
    assert "`s3://landing/transactions/dt=2024-04-28/late.csv`" in body and "`scheduled__2024-05-01`" in body
    assert "`unknown_currency` on `currency` ×10, `implausible_timestamp` on `executed_at` ×2" in body
    assert "Rows 3, 7, 9…" in body and "12 rows rejected in 1 file" in msg["blocks"][0]["text"]["text"]
    assert_valid_block_kit(msg)


def test_no_raw_value_or_loader_detail_reaches_a_reject_message():
    # Whatever a caller passes along, the builders show only the fields they know: codes, names, numbers.
    files = [rejected_file(1, reason_detail=f"value {EMAIL} in column email", reason=f"bad_value: {EMAIL}")]
    batch = {"source": "clients", "source_file": "s3://landing/clients/dt=2024-05-01/c.csv", "batch_id": "b1",
             "rows": 1, "sample_rows": [4], "rules": {("invalid_email", "email"): 1},
             "rejected_value": EMAIL, "delivered_email": EMAIL}
    payloads = json.dumps([rejected_files_message(files, RUN_ID, RUN_URL, "m-1"),
                           messages.rejected_batches_message([batch], RUN_ID, RUN_URL, "m-2")], ensure_ascii=False)
    assert "jane.doe" not in payloads and "example.org" not in payloads
    assert "`invalid_email` on `email` ×1" in payloads


def test_a_code_that_is_not_a_plain_identifier_is_hidden():
    from include.alerts.rejects import safe_code

    assert safe_code("unknown_currency") == "unknown_currency" and safe_code(None) is None
    for hostile in (EMAIL, "bad value 'x'", "Bad_Header", "a" * 65):
        assert safe_code(hostile) == "unrecognised"


def test_failure_template_names_dag_task_run_try_exception_and_log():
    template = FAILURE_TEXT + json.dumps(FAILURE_BLOCKS)
    for field in ("ti.dag_id", "ti.task_id", "run_id", "ti.try_number", "exception_summary", "ti.log_url"):
        assert "{{ " + field + " }}" in template


def test_failure_notifier_renders_into_valid_block_kit():
    notifier = failure_notifier("slack_test").build()
    assert type(notifier).__mro__[1].__name__ == "SlackWebhookNotifier"
    ti = SimpleNamespace(dag_id="lakehouse", task_id="load", try_number=3,
                         log_url="http://localhost:8080/dags/lakehouse/runs/r1/tasks/load?try_number=3")
    context = {"ti": ti, "run_id": "r1", "exception": RuntimeError("boom " + "z" * 5000)}
    rendered = copy.copy(notifier)
    rendered._update_context(context)
    rendered.render_template_fields(context)
    body = "\n".join(texts(rendered.blocks))
    for expected in ("`lakehouse`", "`load`", "`r1`", "3", "RuntimeError: boom", f"<{ti.log_url}|"):
        assert expected in body
    assert_valid_block_kit({"text": rendered.text, "blocks": rendered.blocks})
    # The notifier itself keeps its templates for the next failure.
    assert "{{ ti.task_id }}" in json.dumps(notifier.blocks)


def test_exception_text_carries_no_quoted_value_or_email():
    summary = exception_summary(RuntimeError(f"Cannot cast '{EMAIL}' to DECIMAL; row from {EMAIL} \"x@y\""))
    assert "jane.doe" not in summary and "x@y" not in summary
    assert summary.startswith("RuntimeError: Cannot cast '…' to DECIMAL")


def test_exception_text_is_cut_and_carries_no_credentials():
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-pa55word")
    exc = RuntimeError("login failed for s3cr3t-pa55word at https://bob:hunter2@db.example/x, posting to "
                       "https://hooks.slack.com/services/T000/B000/XXXXXXXX " + "&" * 3000)
    summary = exception_summary(exc, limit=1000)
    assert len(summary) <= 1000 and summary.endswith("…")
    for secret in ("s3cr3t-pa55word", "hunter2", "XXXXXXXX"):
        assert secret not in summary
    assert summary.startswith("RuntimeError: login failed")


@pytest.mark.parametrize("missing", [None, ""])
def test_a_failure_without_an_exception_still_says_something(missing):
    assert "no exception recorded" in exception_summary(missing)
