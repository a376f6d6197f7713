"""Alerts end to end: the real receiver, the Slack provider's hook and notifier, and the ledger on real Trino.

Each test starts its own receiver on a free port under a temporary home (never the stack's 58099) and keeps its
tables in a throwaway schema, so it runs beside a stack that is in use.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import uuid
from types import SimpleNamespace
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from include.alerts.anomalies import send_anomaly_alerts
from include.alerts.failure import failure_notifier
from include.alerts.ledger import AlertDeliveryError, literal
from include.alerts.receiver import WebhookReceiver, read_messages
from include.alerts.rejects import send_reject_alerts
from include.settings import trino_connection
from include.stack.process import port_open
from tests.conftest import query

pytestmark = pytest.mark.integration

TOKEN = "T0TEST/B0TEST/test-token"
RUN_URL = "http://localhost:8080/dags/lakehouse/runs/manual__1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def receiver(settings, tmp_path):
    svc = WebhookReceiver(dataclasses.replace(settings, home=tmp_path, bind_host="127.0.0.1", webhook_port=free_port()))
    assert svc.start() == "started"
    yield svc
    svc.stop()


@pytest.fixture()
def slack_conn(receiver, monkeypatch) -> str:
    """A Slack webhook connection to this test's receiver, shaped like the stack's default one."""
    conn_id = f"slack_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "slackwebhook", "host": f"127.0.0.1:{receiver.port}/services", "schema": "http",
        "password": TOKEN}))
    return conn_id


@pytest.fixture()
def lake(settings):
    """A Trino cursor and a throwaway schema holding an anomaly table shaped like the dbt model, and the ledger."""
    if not port_open(settings.trino_host, settings.trino_port):
        pytest.skip(f"Trino is not reachable at {settings.trino_host}:{settings.trino_port}; "
                    "start the stack with `python -m include.stack up`")
    conn = trino_connection(settings)
    cur = conn.cursor()
    schema = f"alerts_test_{uuid.uuid4().hex[:8]}"
    table = f"iceberg.{schema}.transaction_anomaly_detection"
    query(cur, f"create schema iceberg.{schema}")
    query(cur, f"""create table {table} (
        anomaly_id varchar, transaction_id varchar, client_id varchar, asset_id varchar,
        executed_at timestamp(6) with time zone, rule varchar, score double, severity varchar, reason varchar,
        detected_at timestamp(6) with time zone)""")
    yield SimpleNamespace(cur=cur, schema=schema, table=table)
    for (name,) in query(cur, f"show tables from iceberg.{schema}"):
        query(cur, f"drop table iceberg.{schema}.{name}")
    query(cur, f"drop schema iceberg.{schema}")
    conn.close()


def add_anomalies(lake, rows: list[tuple[str, str, str]]) -> None:
    """Insert (anomaly_id, severity, rule) rows; the other columns are derived from the id."""
    values = ",\n".join(
        f"({literal(a)}, {literal('tx-' + a)}, {literal('client-' + a)}, 'BTC', "
        f"timestamp '2024-05-01 12:00:00.000000 UTC', {literal(rule)}, {i + 1.5}, {literal(sev)}, "
        f"{literal(f'{rule} on tx-{a}')}, current_timestamp(6))"
        for i, (a, sev, rule) in enumerate(rows)
    )
    query(lake.cur, f"insert into {lake.table} values {values}")


def ledger_rows(lake, kind: str) -> list:
    return query(lake.cur, f"select alert_key, severity, dag_run_id, message_id from iceberg.{lake.schema}.alert_log "
                           f"where alert_kind = {literal(kind)} order by alert_key")


def send_anomalies(lake, slack_conn, run_id="manual__1", cap=20) -> dict:
    return send_anomaly_alerts(lake.cur, slack_conn, run_id, RUN_URL, cap=cap, anomaly_table=lake.table,
                               ledger_schema=lake.schema)


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    try:
        with urlopen(Request(url, data=body, headers={"Content-Type": content_type}), timeout=5) as resp:
            return resp.status, resp.read().decode()
    except HTTPError as err:
        return err.code, err.read().decode()


def section_texts(payload: dict) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]


def test_receiver_answers_like_slack_and_keeps_what_it_accepted(receiver, settings, tmp_path):
    base = f"http://127.0.0.1:{receiver.port}"
    assert post(f"{base}/services/{TOKEN}", b'{"text": "hello"}') == (200, "ok")
    assert post(f"{base}/services/{TOKEN}", b'{"blocks": [{"type": "divider"}]}') == (200, "ok")
    assert post(f"{base}/services/{TOKEN}", b"payload=%7B%22text%22%3A%22form%22%7D",
                "application/x-www-form-urlencoded") == (200, "ok")
    assert post(f"{base}/services/{TOKEN}", b"not json") == (400, "invalid_payload")
    assert post(f"{base}/services/{TOKEN}", b'{"username": "nobody"}') == (400, "invalid_payload")
    assert post(f"{base}/elsewhere", b'{"text": "hello"}')[0] == 404
    assert receiver.status() == "healthy"

    messages = read_messages(dataclasses.replace(settings, home=tmp_path))
    assert [m["payload"] for m in messages] == [{"text": "hello"}, {"blocks": [{"type": "divider"}]}, {"text": "form"}]
    assert all(m["path"] == f"/services/{TOKEN}" and m["received_at"] for m in messages)
    assert "test-token" not in receiver.log.read_text(), "the webhook token stays out of the log"


def test_receiver_stops_and_reports_stopped(receiver):
    assert receiver.start() == "already running"
    assert receiver.stop() is True
    assert receiver.status() == "stopped" and not port_open("127.0.0.1", receiver.port)


def test_stack_default_connection_makes_the_hook_post_to_the_local_receiver(monkeypatch):
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_LOCAL_DEFAULT", json.dumps({
        "conn_type": "slackwebhook", "host": "127.0.0.1:58099/services", "schema": "http",
        "password": "T0LOCAL/B0LOCAL/local-token"}))
    url = SlackWebhookHook(slack_webhook_conn_id="slack_local_default")._get_conn_params()["url"]
    assert url == "http://127.0.0.1:58099/services/T0LOCAL/B0LOCAL/local-token"


def test_failure_notifier_posts_the_failed_task_through_the_provider(receiver, slack_conn):
    ti = SimpleNamespace(dag_id="lakehouse", task_id="load_raw", try_number=3,
                         log_url="http://localhost:8080/dags/lakehouse/runs/manual__1/tasks/load_raw?try_number=3")
    failure_notifier(slack_conn)({"ti": ti, "run_id": "manual__1", "exception": ValueError("bad file <x>")})
    [message] = read_messages(receiver.s)
    body = json.dumps(message["payload"])
    for expected in ("lakehouse", "load_raw", "manual__1", "ValueError: bad file &lt;x&gt;", ti.log_url):
        assert expected in body


def test_anomalies_go_out_grouped_by_severity_capped_and_linked(lake, receiver, slack_conn):
    criticals = [(f"c{i:02}", "critical", "velocity_burst" if i % 5 else "oversell") for i in range(25)]
    others = [("h1", "high", "amount_outlier"), ("h2", "high", "price_deviation"), ("l1", "low", "kyc_violation")]
    add_anomalies(lake, criticals + others)

    result = send_anomalies(lake, slack_conn, cap=20)

    assert result == {"by_severity": {"critical": 25, "high": 2, "low": 1}, "messages_sent": 3,
                      "anomalies_sent": 28, "already_alerted": 0}
    critical, high, low = [m["payload"] for m in read_messages(receiver.s)]
    assert "25 critical anomalies" in critical["blocks"][0]["text"]["text"]
    assert "2 high anomalies" in high["blocks"][0]["text"]["text"]
    assert "1 low anomaly" in low["blocks"][0]["text"]["text"]
    listed = [t for t in section_texts(critical) if "Transaction `tx-" in t]
    assert len(listed) == 20
    # Scores rise with insertion order, so the five lowest (c00-c04) are the ones summarised.
    assert "… and 5 more anomalies (velocity_burst ×4, oversell ×1)" in section_texts(critical)
    assert "`tx-h1`" in "\n".join(section_texts(high)) and "kyc_violation" in "\n".join(section_texts(low))
    for payload in (critical, high, low):
        assert len(payload["blocks"]) <= 50 and f"<{RUN_URL}|" in section_texts(payload)[-1]

    recorded = ledger_rows(lake, "anomaly")
    assert len(recorded) == 28 and {r[2] for r in recorded} == {"manual__1"}
    # Each ledger row names the message it went out in, and that message shows the same id.
    critical_ids = {r[3] for r in recorded if r[1] == "critical"}
    assert len(critical_ids) == 1 and critical_ids.pop() in json.dumps(critical)


def test_rerunning_sends_nothing_already_alerted(lake, receiver, slack_conn):
    add_anomalies(lake, [("a1", "high", "amount_outlier"), ("a2", "medium", "velocity_burst")])
    send_anomalies(lake, slack_conn, run_id="run_1")

    again = send_anomalies(lake, slack_conn, run_id="run_2")

    assert again == {"by_severity": {}, "messages_sent": 0, "anomalies_sent": 0, "already_alerted": 2}
    assert len(read_messages(receiver.s)) == 2
    add_anomalies(lake, [("a3", "medium", "oversell")])
    assert send_anomalies(lake, slack_conn, run_id="run_3")["by_severity"] == {"medium": 1}
    assert len(ledger_rows(lake, "anomaly")) == 3


def test_webhook_down_raises_records_nothing_and_delivers_once_when_back(lake, receiver, slack_conn):
    add_anomalies(lake, [("d1", "critical", "oversell"), ("d2", "low", "duplicate_suspect")])
    receiver.stop()

    with pytest.raises(AlertDeliveryError):
        send_anomalies(lake, slack_conn, run_id="try_1")
    assert ledger_rows(lake, "anomaly") == []

    receiver.start()
    assert send_anomalies(lake, slack_conn, run_id="try_2")["anomalies_sent"] == 2
    assert send_anomalies(lake, slack_conn, run_id="try_3")["anomalies_sent"] == 0
    keys = [r[0] for r in ledger_rows(lake, "anomaly")]
    assert keys == ["d1", "d2"]
    assert len(read_messages(receiver.s)) == 2


def test_a_retry_after_a_partial_failure_sends_only_the_missing_groups(lake, receiver, slack_conn, monkeypatch):
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    add_anomalies(lake, [("p1", "critical", "oversell"), ("p2", "high", "amount_outlier"), ("p3", "low", "oversell")])
    real_send, calls = SlackWebhookHook.send, []

    def fails_on_second_message(self, **kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise ConnectionError("webhook went away")
        return real_send(self, **kwargs)

    monkeypatch.setattr(SlackWebhookHook, "send", fails_on_second_message)
    with pytest.raises(AlertDeliveryError):
        send_anomalies(lake, slack_conn, run_id="try_1")
    assert [r[0] for r in ledger_rows(lake, "anomaly")] == ["p1"]

    retry = send_anomalies(lake, slack_conn, run_id="try_2")

    assert retry["by_severity"] == {"high": 1, "low": 1} and retry["already_alerted"] == 1
    headers = [m["payload"]["blocks"][0]["text"]["text"] for m in read_messages(receiver.s)]
    assert [h.split(" ", 2)[2] for h in headers] == ["critical anomaly detected", "high anomaly detected",
                                                     "low anomaly detected"]


def test_each_rejected_file_and_each_days_row_count_is_alerted_once(lake, receiver, slack_conn, settings):
    def file(n: int) -> dict:
        f = {"key": f"transactions/2024/05/01/part-{n}.csv", "etag": f"etag{n}", "source": "transactions",
             "reason": "missing column 'amount'", "quarantine_uri": f"s3://quarantine/part-{n}.csv.etag{n}"}
        # The pipeline passes the loader's report, which has no URI: the loader's quarantine copy is assumed.
        return f if n < 3 else {k: v for k, v in f.items() if k != "quarantine_uri"}

    def send(files, rows, ds="2024-05-01", run_id="run_1"):
        return send_reject_alerts(lake.cur, slack_conn, run_id, RUN_URL, files, rows, row_threshold=10, ds=ds,
                                  ledger_schema=lake.schema)

    first = send([file(1), file(2)], {"transactions": 50, "clients": 3})
    assert first["files_sent"] == 2 and first["row_sources_sent"] == ["transactions"]
    second = send([file(1), file(2), file(3)], {"transactions": 60, "clients": 3}, run_id="run_2")
    assert second["files_sent"] == 1 and second["files_already_alerted"] == 2
    assert second["row_sources_sent"] == [] and second["row_sources_already_alerted"] == ["transactions"]
    assert send([], {"transactions": 60}, ds="2024-05-02", run_id="run_3")["row_sources_sent"] == ["transactions"]

    payloads = [json.dumps(m["payload"]) for m in read_messages(receiver.s)]
    assert len(payloads) == 4
    assert "part-1.csv" in payloads[0] and "part-2.csv" in payloads[0] and "missing column" in payloads[0]
    assert "s3://quarantine/part-1.csv.etag1" in payloads[0]
    assert "transactions*: 50 rows" in payloads[1]
    assert "part-3.csv" in payloads[2] and "part-1.csv" not in payloads[2]
    assert f"s3://{settings.quarantine_bucket}/transactions/2024/05/01/part-3.csv.etag3" in payloads[2]
    assert "2024-05-02" in payloads[3]
    assert [r[0] for r in ledger_rows(lake, "rejected_file")] == [f"transactions/2024/05/01/part-{n}.csv.etag{n}"
                                                                   for n in (1, 2, 3)]
    assert [r[0] for r in ledger_rows(lake, "rejected_rows")] == ["rejected_rows:transactions:2024-05-01",
                                                                  "rejected_rows:transactions:2024-05-02"]
