"""Alerts end to end: the real receiver, the Slack provider's hook and notifier, and the ledger on real Trino.

Each test starts its own receiver on a free port under a temporary home (never the stack's 58099) and keeps its
tables in a throwaway schema, so it runs beside a stack that is in use.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from devtools.receiver import WebhookReceiver, read_messages
from devtools.stack.process import port_open
from include.alerts.anomalies import send_anomaly_alerts
from include.alerts.delivery import RetryPolicy
from include.alerts.failure import deliver_parked_notices, failure_notifier
from include.alerts.ledger import AlertDeliveryError, ensure_ledger, literal, record_sent
from include.alerts.outbox import S3Outbox
from include.alerts.rejects import send_reject_alerts
from include.settings import trino_connection
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
def slack_conn(receiver, monkeypatch, tmp_path) -> str:
    """A Slack webhook connection to this test's receiver, shaped like the stack's default one, and an outbox of the
    test's own (a callback drains the outbox: it must never deliver the shared stack's parked notices)."""
    monkeypatch.setenv("LAKEHOUSE_ALERT_OUTBOX", (tmp_path / "outbox").as_uri())
    monkeypatch.setenv("LAKEHOUSE_ALERT_OUTBOX_FALLBACK", (tmp_path / "outbox-fallback").as_uri())
    conn_id = f"slack_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "slackwebhook", "host": f"127.0.0.1:{receiver.port}/services", "schema": "http",
        "password": TOKEN}))
    return conn_id


@pytest.fixture()
def tables(settings):
    """A Trino cursor and a throwaway schema, dropped with whatever the test created in it."""
    if not port_open(settings.trino_host, settings.trino_port):
        pytest.skip(f"Trino is not reachable at {settings.trino_host}:{settings.trino_port}; "
                    "start the stack with `python -m devtools.stack up`")
    conn = trino_connection(settings)
    cur = conn.cursor()
    schema = f"alerts_test_{uuid.uuid4().hex[:8]}"
    catalog = settings.trino_catalog
    query(cur, f"create schema {catalog}.{schema}")
    yield SimpleNamespace(cur=cur, schema=schema, catalog=catalog, prefix=f"{catalog}.{schema}")
    for (name,) in query(cur, f"show tables from {catalog}.{schema}"):
        query(cur, f"drop table {catalog}.{schema}.{name}")
    query(cur, f"drop schema {catalog}.{schema}")
    conn.close()


@pytest.fixture()
def lake(tables):
    """The throwaway schema with an anomaly table shaped like the dbt model (the ledger comes with the first call)."""
    tables.table = f"{tables.prefix}.transaction_anomaly_detection"
    query(tables.cur, f"""create table {tables.table} (
        anomaly_id varchar, transaction_id varchar, client_id varchar, asset_id varchar,
        executed_at timestamp(6) with time zone, rule varchar, score double, severity varchar, reason varchar,
        detected_at timestamp(6) with time zone)""")
    return tables


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
    return query(lake.cur, f"select alert_key, severity, dag_run_id, message_id from {lake.prefix}.alert_log "
                           f"where alert_kind = {literal(kind)} order by alert_key")


def send_anomalies(lake, slack_conn, run_id="manual__1", cap=20) -> dict:
    return send_anomaly_alerts(lake.cur, slack_conn, run_id, RUN_URL, cap=cap, anomaly_table=lake.table,
                               ledger_schema=lake.schema, catalog=lake.catalog)


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
    from slack_sdk import WebhookClient

    add_anomalies(lake, [("p1", "critical", "oversell"), ("p2", "high", "amount_outlier"), ("p3", "low", "oversell")])
    real_send, webhook_broken = WebhookClient.send, [True]

    def fails_on_the_high_message(self, **kwargs):
        if webhook_broken[0] and kwargs["text"].startswith("1 high"):
            raise ConnectionError("webhook went away")
        return real_send(self, **kwargs)

    monkeypatch.setattr(WebhookClient, "send", fails_on_the_high_message)
    with pytest.raises(AlertDeliveryError):
        send_anomalies(lake, slack_conn, run_id="try_1")
    assert [r[0] for r in ledger_rows(lake, "anomaly")] == ["p1"]

    webhook_broken[0] = False
    retry = send_anomalies(lake, slack_conn, run_id="try_2")

    assert retry["by_severity"] == {"high": 1, "low": 1} and retry["already_alerted"] == 1
    headers = [m["payload"]["blocks"][0]["text"]["text"] for m in read_messages(receiver.s)]
    assert [h.split(" ", 2)[2] for h in headers] == ["critical anomaly detected", "high anomaly detected",
                                                     "low anomaly detected"]


# --- Reject alerts from the ingest ledger and the rejected-rows models ---------------------------------------------

EMAIL = "jane.doe+vip@example.org"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Two posts per message: enough to prove a retry, short enough for a test (one 1 s backoff)."""
    monkeypatch.setenv("LAKEHOUSE_ALERT_ATTEMPTS", "2")


def create_reject_tables(lake, models: bool = True) -> None:
    """The ingest ledger (columns agreed in notes/interfaces.md) and rejected-rows models shaped like dbt's."""
    query(lake.cur, f"""create table {lake.prefix}.ingest_ledger (
        landing_key varchar, etag varchar, status varchar, source varchar, landing_day varchar,
        reason_code varchar, reason_detail varchar, rows_loaded bigint, quarantine_uri varchar, snapshot_id bigint,
        batch_id varchar, recorded_at timestamp(6) with time zone)""")
    for source in ("clients", "transactions") if models else ():
        query(lake.cur, f"""create table {lake.prefix}.stg_{source}_rejected (
            record_key varchar, rejection_rule varchar, rejected_column varchar, rejected_value varchar,
            delivered_email varchar, _source_file varchar, _source_row bigint,
            _ingested_at timestamp(6) with time zone, _batch_id varchar)""")


def add_ingested(lake, *entries: tuple) -> None:
    """Ingest-ledger rows, each (landing key, status, reason code[, etag])."""
    values = []
    for key, status, reason_code, *etag in entries:
        etag = etag[0] if etag else "e1"
        day = key.split("dt=")[1][:10] if "dt=" in key else None
        uri = f"s3://quarantine/{key}.{etag}" if status == "quarantined" else None
        # The loader's detail is free text: here it quotes a cell, which must go no further.
        values.append(f"({literal(key)}, {literal(etag)}, {literal(status)}, {literal(key.split('/')[0])}, "
                      f"{literal(day)}, {literal(reason_code)}, {literal(f'row 3 column email has {EMAIL}')}, 0, "
                      f"{literal(uri)}, null, 'b', current_timestamp(6))")
    query(lake.cur, f"insert into {lake.prefix}.ingest_ledger values {', '.join(values)}")


def add_rejected(lake, source: str, file: str, batch: str, rows: list[tuple[int, str, str]]) -> None:
    values = ", ".join(
        f"({literal(f'{file}#{n}')}, {literal(rule)}, {literal(column)}, {literal(EMAIL)}, {literal(EMAIL)}, "
        f"{literal(file)}, {n}, current_timestamp(6), {literal(batch)})" for n, rule, column in rows)
    query(lake.cur, f"insert into {lake.prefix}.stg_{source}_rejected values {values}")


def send_rejects(lake, slack_conn, run_id: str = "run_1") -> dict:
    return send_reject_alerts(lake.cur, slack_conn, run_id, RUN_URL, sources=("clients", "transactions"),
                              catalog=lake.catalog, raw_schema=lake.schema, staging_schema=lake.schema,
                              ledger_schema=lake.schema)


NOTHING = {"files_sent": 0, "row_batches_sent": 0, "rows_sent": 0, "messages_sent": 0}
DAY1 = "s3://landing/transactions/dt=2024-05-01/day1.csv"
LATE = "s3://landing/transactions/dt=2024-04-28/late.csv"
CLIENTS = "s3://landing/clients/dt=2024-05-01/clients.csv"


def test_each_rejected_file_and_batch_is_alerted_once_across_retries_and_late_files(tables, receiver, slack_conn,
                                                                                       caplog):
    lake = tables
    # Before the loader has written its ledger or dbt its models there is nothing to alert, and no error.
    assert send_rejects(lake, slack_conn, "run_0") == NOTHING
    create_reject_tables(lake)
    # A racing loader recorded race.csv twice: loaded wins, so it is no rejected file.
    add_ingested(lake, ("transactions/dt=2024-05-01/bad.csv", "quarantined", "bad_header"),
                 ("transactions/dt=2024-05-01/day1.csv", "loaded", None),
                 ("transactions/dt=2024-05-01/race.csv", "quarantined", "commit_conflict"),
                 ("transactions/dt=2024-05-01/race.csv", "loaded", None))
    add_rejected(lake, "transactions", DAY1, "run_1", [(2, "unknown_currency", "currency"),
                                                       (5, "unknown_currency", "currency"),
                                                       (9, "implausible_timestamp", "executed_at")])
    add_rejected(lake, "clients", CLIENTS, "run_1", [(3, "invalid_email", "email")])

    with caplog.at_level(logging.DEBUG):
        first = send_rejects(lake, slack_conn, "run_1")
        retried = send_rejects(lake, slack_conn, "run_1")  # the task's retry, or the same run cleared and re-run
        # A later run loads a late file for an earlier day, a new bad file and an object outside the contract.
        add_rejected(lake, "transactions", LATE, "run_2", [(4, "out_of_range", "amount")])
        add_ingested(lake, ("transactions/dt=2024-04-28/old.csv", "quarantined", "too_large"),
                     ("transactions/dt=2024-05-02/", "reported", "folder_marker", "d41d8"))
        later = send_rejects(lake, slack_conn, "run_2")
        again = send_rejects(lake, slack_conn, "run_3")

    assert first == {"files_sent": 1, "row_batches_sent": 2, "rows_sent": 4, "messages_sent": 2}
    assert retried == NOTHING and again == NOTHING
    assert later == {"files_sent": 2, "row_batches_sent": 1, "rows_sent": 1, "messages_sent": 2}
    files1, rows1, files2, rows2 = [json.dumps(m["payload"], ensure_ascii=False) for m in read_messages(receiver.s)]
    assert "transactions/dt=2024-05-01/bad.csv" in files1 and "`bad_header`" in files1 and "day1.csv" not in files1
    assert "`unknown_currency` on `currency` ×2" in rows1 and "Rows 2, 5, 9" in rows1 and CLIENTS in rows1
    assert "old.csv" in files2 and "`too_large`" in files2 and "Reported: `folder_marker`" in files2
    assert LATE in rows2 and "`out_of_range` on `amount` ×1" in rows2 and DAY1 not in rows2
    for text in (files1, rows1, files2, rows2, caplog.text):
        assert "jane.doe" not in text and "example.org" not in text
    assert [r[0] for r in ledger_rows(lake, "rejected_file")] == [
        "transactions/dt=2024-04-28/old.csv.e1", "transactions/dt=2024-05-01/bad.csv.e1",
        "transactions/dt=2024-05-02/.d41d8"]
    assert [r[0] for r in ledger_rows(lake, "rejected_rows")] == [
        f"rejected_rows:clients:{CLIENTS}:run_1", f"rejected_rows:transactions:{LATE}:run_2",
        f"rejected_rows:transactions:{DAY1}:run_1"]


# --- Webhook faults: a server of our own on another loopback port --------------------------------------------------

class FaultyWebhook:
    """A webhook that answers the scripted (status, headers) first and 200 after, noting when each post came."""

    def __init__(self):
        self.script: list[tuple[int, dict]] = []
        self.posts: list[tuple[float, int]] = []
        self.accepted: list[dict] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers = webhook.script.pop(0) if webhook.script else (200, {})
                webhook.posts.append((time.monotonic(), status))
                if status == 200:
                    webhook.accepted.append(json.loads(body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture()
def faulty(monkeypatch):
    webhook = FaultyWebhook()
    conn_id = f"slack_faulty_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "slackwebhook", "host": f"127.0.0.1:{webhook.port}/services", "schema": "http",
        "password": TOKEN}))
    webhook.conn_id = conn_id
    yield webhook
    webhook.server.shutdown()
    webhook.server.server_close()


def test_a_webhook_answering_500_gets_the_alert_once_it_recovers(tables, faulty):
    lake = tables
    create_reject_tables(lake, models=False)
    add_ingested(lake, ("transactions/dt=2024-05-01/bad.csv", "quarantined", "bad_header"))

    faulty.script = [(500, {}), (500, {})]
    with pytest.raises(AlertDeliveryError, match="HTTP 500"):
        send_rejects(lake, faulty.conn_id, "try_1")
    assert ledger_rows(lake, "rejected_file") == [] and faulty.accepted == []

    faulty.script = [(503, {})]  # the next try: one more 5xx, backed off, then accepted
    assert send_rejects(lake, faulty.conn_id, "try_2")["files_sent"] == 1
    assert send_rejects(lake, faulty.conn_id, "try_3") == NOTHING
    assert [s for _, s in faulty.posts] == [500, 500, 503, 200]
    assert len(faulty.accepted) == 1 and len(ledger_rows(lake, "rejected_file")) == 1


def test_a_429_is_retried_after_the_wait_it_asks_for_and_a_long_one_is_left_to_the_next_try(tables, faulty):
    lake = tables
    create_reject_tables(lake, models=False)
    add_ingested(lake, ("transactions/dt=2024-05-01/bad.csv", "quarantined", "bad_header"))

    faulty.script = [(429, {"Retry-After": "3600"})]
    with pytest.raises(AlertDeliveryError, match="Retry-After 3600"):
        send_rejects(lake, faulty.conn_id, "try_1")
    assert len(faulty.posts) == 1 and ledger_rows(lake, "rejected_file") == []

    faulty.script = [(429, {"Retry-After": "1"})]
    assert send_rejects(lake, faulty.conn_id, "try_2")["files_sent"] == 1
    (asked, status_429), (retried, status_ok) = faulty.posts[1:]
    assert (status_429, status_ok) == (429, 200) and retried - asked >= 1.0
    assert len(faulty.accepted) == 1 and len(ledger_rows(lake, "rejected_file")) == 1


# --- Failure notices through the outbox ----------------------------------------------------------------------------

@pytest.fixture()
def outbox_bucket(settings, s3, tmp_path, monkeypatch):
    """A fresh bucket on the real object store as the failure outbox, and an empty local fallback."""
    bucket = f"alert-outbox-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKEHOUSE_ALERT_OUTBOX", f"s3://{bucket}/outbox/")
    monkeypatch.setenv("LAKEHOUSE_ALERT_OUTBOX_FALLBACK", (tmp_path / "fallback").as_uri())
    # One post per notice in the callback: the webhook is plainly down, and the test need not wait on backoff.
    monkeypatch.setattr("include.alerts.failure.CALLBACK_POLICY", RetryPolicy(attempts=1))
    yield bucket
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


def fail_task(slack_conn: str, task_id: str) -> None:
    ti = SimpleNamespace(dag_id="lakehouse", task_id=task_id, try_number=3, map_index=-1,
                         log_url=f"http://localhost:8080/dags/lakehouse/runs/manual__1/tasks/{task_id}")
    failure_notifier(slack_conn)({"ti": ti, "run_id": "manual__1", "exception": RuntimeError("boom")})


def test_a_failure_notice_waits_in_the_outbox_while_the_webhook_is_down_and_is_delivered_once(
        receiver, slack_conn, outbox_bucket, s3):
    def parked() -> int:
        return len(s3.list_objects_v2(Bucket=outbox_bucket).get("Contents", []))

    def failed_tasks() -> list[str]:
        return [json.dumps(m["payload"]).split("*Task*\\n`")[1].split("`")[0] for m in read_messages(receiver.s)]

    receiver.stop()
    fail_task(slack_conn, "ingest_transactions")  # the callback must not raise: the task has already failed
    assert parked() == 1 and read_messages(receiver.s) == []

    receiver.start()
    # A drain already posting it (say a callback) holds its claim: this drain leaves it alone.
    [name] = [o["Key"].rsplit("/", 1)[1] for o in s3.list_objects_v2(Bucket=outbox_bucket)["Contents"]]
    other = S3Outbox(outbox_bucket, "outbox", s3)
    assert other.claim(name)
    assert deliver_parked_notices(slack_conn) == 0 and parked() == 2
    other.release(name)
    assert deliver_parked_notices(slack_conn) == 1  # what the next alert_rejects task does
    assert deliver_parked_notices(slack_conn) == 0 and parked() == 0

    receiver.stop()
    fail_task(slack_conn, "stg_transactions_run")
    receiver.start()
    fail_task(slack_conn, "alert_rejects")  # the next callback posts its own notice, then the parked one
    assert parked() == 0 and deliver_parked_notices(slack_conn) == 0
    assert failed_tasks() == ["ingest_transactions", "alert_rejects", "stg_transactions_run"]


# --- The run digest: one summary per run, from the ledgers, sent once -----------------------------------------------

def add_loads(lake, *entries: tuple[str, str, str, int]) -> None:
    """Ingest-ledger rows as the loader writes them, its run id as batch id: (run id, landing key, status, rows)."""
    values = ", ".join(
        f"({literal(key)}, 'e1', {literal(status)}, {literal(key.split('/')[0])}, null, "
        f"{literal(None if status == 'loaded' else 'bad_header')}, {literal(f'cell {EMAIL}')}, {rows}, null, null, "
        f"{literal(run_id)}, current_timestamp(6))" for run_id, key, status, rows in entries)
    query(lake.cur, f"insert into {lake.prefix}.ingest_ledger values {values}")


def send_digest(lake, slack_conn, run_id: str, results_dir) -> dict:
    from include.alerts.digest import run_results_dir, send_run_digest

    return send_run_digest(lake.cur, slack_conn, "lakehouse_pipeline", run_id, RUN_URL,
                           sources=("clients", "transactions"), catalog=lake.catalog, raw_schema=lake.schema,
                           staging_schema=lake.schema, ledger_schema=lake.schema, anomaly_table=lake.table,
                           results_dir=run_results_dir(run_id, results_dir),
                           task_states={"ingest_transactions": "success", "run_digest": "running"},
                           own_task_id="run_digest")


def test_the_run_digest_goes_out_once_per_run_across_retries_with_this_runs_counts(lake, receiver, slack_conn,
                                                                                    tmp_path):
    create_reject_tables(lake)
    add_loads(lake, ("run_0", "transactions/dt=2024-04-30/old.csv", "loaded", 999),
              ("run_1", "transactions/dt=2024-05-01/a.csv", "loaded", 100),
              ("run_1", "transactions/dt=2024-05-01/b.csv", "loaded", 50),
              ("run_1", "transactions/dt=2024-05-01/bad.csv", "quarantined", 0),
              ("run_1", "clients/dt=2024-05-01/clients.csv", "loaded", 10))
    add_rejected(lake, "transactions", DAY1, "run_1", [(2, "unknown_currency", "currency"),
                                                       (5, "implausible_timestamp", "executed_at")])
    add_rejected(lake, "transactions", LATE, "run_0", [(7, "unknown_currency", "currency")])
    add_anomalies(lake, [("a0", "high", "oversell"), ("a1", "critical", "amount_outlier"),
                         ("a2", "low", "velocity_burst"), ("a3", "low", "velocity_burst")])
    # a0 was alerted by an earlier run (not new in run_1), a1 and a2 by run_1; a3's alert has not gone out yet.
    ensure_ledger(lake.cur, lake.schema, lake.catalog)
    record_sent(lake.cur, "anomaly", [{"alert_key": key, "dag_run_id": run} for key, run in
                                      (("a0", "run_0"), ("a1", "run_1"), ("a2", "run_1"))], lake.schema, lake.catalog)
    (tmp_path / "dbt" / "run_1").mkdir(parents=True)
    (tmp_path / "dbt" / "run_1" / "dbt.dbt_producer_watcher.json").write_text(json.dumps({"results": [
        {"unique_id": "model.lakehouse.stg_transactions", "status": "success"},
        {"unique_id": "test.lakehouse.unique_stg_transactions_transaction_id.1", "status": "pass"},
        {"unique_id": "test.lakehouse.not_null_stg_clients_client_id.2", "status": "fail"}]}))
    alerts_before = len(read_messages(receiver.s))

    receiver.stop()
    with pytest.raises(AlertDeliveryError):  # the first try: Slack unreachable, nothing recorded
        send_digest(lake, slack_conn, "run_1", tmp_path / "dbt")
    receiver.start()
    retried = send_digest(lake, slack_conn, "run_1", tmp_path / "dbt")  # the task's retry
    cleared = send_digest(lake, slack_conn, "run_1", tmp_path / "dbt")  # the task cleared and run again
    other_run = send_digest(lake, slack_conn, "run_2", tmp_path / "dbt")

    assert retried["sent"] and not cleared["sent"] and other_run["sent"]
    digests = [m["payload"] for m in read_messages(receiver.s)[alerts_before:]]
    assert [d["text"].split(" (")[0] for d in digests] == ["Run digest of lakehouse_pipeline run run_1",
                                                           "Run digest of lakehouse_pipeline run run_2"]
    facts = retried["digest"]
    assert facts["sources"] == {
        "clients": {"files_loaded": 1, "files_quarantined": 0, "files_reported": 0, "rows_loaded": 10,
                    "rows_rejected": 0},
        "transactions": {"files_loaded": 2, "files_quarantined": 1, "files_reported": 0, "rows_loaded": 150,
                         "rows_rejected": 2}}
    assert facts["dbt"] == {"tests": {"pass": 1, "fail": 1}, "models": {"success": 1},
                            "failed": ["not_null_stg_clients_client_id"]}
    assert facts["anomalies"] == [{"rule": "amount_outlier", "severity": "critical", "count": 1},
                                  {"rule": "velocity_burst", "severity": "low", "count": 2}]
    assert facts["tasks"] == {"success": 1} and facts["unavailable"] == []
    assert "run_1" in digests[0]["text"] and RUN_URL in json.dumps(digests[0]["blocks"])
    assert EMAIL not in json.dumps(digests), "the loader's free-text detail never reaches the digest"
    assert [(r[0], r[2]) for r in ledger_rows(lake, "run_digest")] == [("lakehouse_pipeline:run_1", "run_1"),
                                                                        ("lakehouse_pipeline:run_2", "run_2")]
    assert other_run["digest"]["dbt"] is None and other_run["digest"]["anomalies"] == [
        {"rule": "velocity_burst", "severity": "low", "count": 1}], "run_2 sees only the still unalerted one"
