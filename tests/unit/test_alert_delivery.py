"""Webhook delivery and the failure outbox as logic: which answers are retried and how long each wait is, what is
recorded when, and how a parked notice is posted once. The real receiver and Trino are in
tests/integration/test_alerts.py."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from include.alerts.delivery import AlertDeliveryError, RetryPolicy, post, retry_after_seconds
from include.alerts.failure import deliver_failure_notice
from include.alerts.ledger import deliver
from include.alerts.outbox import DirOutbox, OutboxError, drain, park

MESSAGE = {"text": "hello", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]}
POLICY = RetryPolicy(attempts=4, backoff=1.0, max_wait=30.0, max_retry_after=60.0)


class FakeClient:
    """A WebhookClient answering from a script: a status code, (status, headers), or an exception to raise."""

    def __init__(self, *answers):
        self.answers, self.sent = list(answers), []

    def send(self, **message):
        self.sent.append(message)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return SimpleNamespace(status_code=status, headers=headers, body="")


def send_with(client, policy=POLICY) -> list[float]:
    waits: list[float] = []
    post(client, MESSAGE, policy, sleep=waits.append)
    return waits


def test_a_429_waits_exactly_as_long_as_retry_after_says():
    client = FakeClient((429, {"Retry-After": "7"}), (429, {"retry-after": ["2"]}), 200)
    assert send_with(client) == [7.0, 2.0]
    assert len(client.sent) == 3 and client.sent[-1] == MESSAGE


def test_a_retry_after_past_the_bound_gives_up_now_instead_of_posting_early():
    client, waits = FakeClient((429, {"Retry-After": "3600"})), []
    with pytest.raises(AlertDeliveryError, match="Retry-After 3600s"):
        post(client, MESSAGE, POLICY, sleep=waits.append)
    assert waits == [] and len(client.sent) == 1


def test_a_429_without_retry_after_backs_off():
    assert send_with(FakeClient(429, (429, {"Retry-After": "soon"}), 200)) == [1.0, 2.0]


def test_server_errors_back_off_exponentially_then_succeed():
    assert send_with(FakeClient(500, 503, 502, 200)) == [1.0, 2.0, 4.0]


def test_server_errors_every_time_give_up_after_the_attempts():
    client, waits = FakeClient(500, 500, 500, 500, 500), []
    with pytest.raises(AlertDeliveryError, match="HTTP 500"):
        post(client, MESSAGE, POLICY, sleep=waits.append)
    assert len(client.sent) == 4 and waits == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_client_error_is_not_retried(status):
    client = FakeClient(status)
    with pytest.raises(AlertDeliveryError, match=f"HTTP {status}"):
        post(client, MESSAGE, POLICY, sleep=pytest.fail)
    assert len(client.sent) == 1


def test_an_unreachable_webhook_is_retried_then_reported():
    assert send_with(FakeClient(ConnectionRefusedError(), 200)) == [1.0]
    with pytest.raises(AlertDeliveryError, match="unreachable"):
        send_with(FakeClient(*[ConnectionRefusedError()] * 4))


def test_retry_after_parsing():
    assert retry_after_seconds({"Retry-After": "30"}) == 30.0
    assert retry_after_seconds({"retry-after": ["1.5"]}) == 1.5
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


class FakeCursor:
    def __init__(self):
        self.statements: list[str] = []

    def execute(self, sql):
        self.statements.append(sql)

    def fetchall(self):
        return []


def test_an_alert_is_recorded_only_after_the_webhook_accepted_it(monkeypatch):
    monkeypatch.setattr("include.alerts.delivery.time.sleep", lambda s: None)
    cur, rows = FakeCursor(), [{"alert_key": "k1", "severity": "high", "dag_run_id": "r", "message_id": "m"}]
    with pytest.raises(AlertDeliveryError):
        deliver(cur, FakeClient(*[503] * 5), MESSAGE, "rejected_file", rows, "ops", "lake", RetryPolicy(attempts=2))
    assert cur.statements == []
    deliver(cur, FakeClient(503, 200), MESSAGE, "rejected_file", rows, "ops", "lake", RetryPolicy(attempts=2))
    [insert] = cur.statements
    assert insert.startswith("insert into lake.ops.alert_log") and "'k1'" in insert


def test_a_parked_notice_is_posted_once_and_stays_until_posted(tmp_path):
    outbox = DirOutbox(tmp_path / "outbox")
    park([outbox], "failure:a", MESSAGE)
    park([outbox], "failure:a", MESSAGE)  # the same notice parked again keeps one copy
    park([outbox], "failure:b", {"text": "second"})
    assert len(outbox.pending()) == 2

    def refuse(message):
        raise AlertDeliveryError("down")

    with pytest.raises(AlertDeliveryError):
        drain([outbox], refuse)
    assert len(outbox.pending()) == 2

    sent: list[dict] = []
    assert drain([outbox], sent.append) == 2
    assert sent == [MESSAGE, {"text": "second"}]
    assert drain([outbox], sent.append) == 0 and len(sent) == 2


def test_a_message_another_drain_claimed_is_left_to_it_unless_its_claim_is_stale(tmp_path):
    import os
    import time

    from include.alerts.outbox import CLAIM_TTL, record_name

    outbox, sent = DirOutbox(tmp_path / "outbox"), []
    park([outbox], "failure:a", MESSAGE)
    name = record_name("failure:a")
    assert outbox.claim(name) and not outbox.claim(name)  # create-if-absent: one claimant
    assert drain([outbox], sent.append) == 0 and len(outbox.pending()) == 1

    # The claimant died: after CLAIM_TTL its claim is taken over and the message posted.
    old = time.time() - CLAIM_TTL.total_seconds() - 60
    os.utime(outbox.path / "claims" / name, (old, old))
    assert drain([outbox], sent.append) == 1 and sent == [MESSAGE] and outbox.pending() == []
    assert not (outbox.path / "claims" / name).exists()


class BrokenOutbox:
    uri = "s3://down/outbox/"

    def put(self, notice_id, message):
        raise ConnectionError("object store down")

    def pending(self):
        raise ConnectionError("object store down")


def test_a_notice_falls_back_to_the_next_outbox_and_is_drained_from_it(tmp_path):
    fallback = DirOutbox(tmp_path / "fallback")
    assert park([BrokenOutbox(), fallback], "failure:x", MESSAGE) == fallback.uri
    sent: list[dict] = []
    with pytest.raises(ConnectionError):  # reported, after the readable outbox was drained
        drain([BrokenOutbox(), fallback], sent.append)
    assert sent == [MESSAGE] and fallback.pending() == []
    with pytest.raises(OutboxError):
        park([BrokenOutbox()], "failure:y", MESSAGE)


def test_a_failure_notice_is_parked_while_the_webhook_is_down_and_sent_by_the_next_callback(tmp_path, caplog):
    outbox, policy = DirOutbox(tmp_path / "outbox"), RetryPolicy(attempts=1)
    with caplog.at_level(logging.INFO):
        assert deliver_failure_notice(lambda: FakeClient(500), MESSAGE, "failure:1", [outbox], policy) == "parked"
        assert [r[1]["notice_id"] for r in outbox.pending()] == ["failure:1"]

        up = FakeClient()
        second = {"text": "second failure"}
        assert deliver_failure_notice(lambda: up, second, "failure:2", [outbox], policy) == "sent"
    assert up.sent == [{"text": "second failure", "blocks": None}, {"text": "hello", "blocks": MESSAGE["blocks"]}]
    assert outbox.pending() == []
    # The log says what happened to which notice, never what the notice said.
    assert "parked" in caplog.text and "hello" not in caplog.text


def test_a_missing_connection_parks_the_notice_too(tmp_path):
    def no_connection():
        raise KeyError("slack_alerts")

    outbox = DirOutbox(tmp_path / "outbox")
    assert deliver_failure_notice(no_connection, MESSAGE, "failure:1", [outbox], RetryPolicy(attempts=1)) == "parked"
    assert len(outbox.pending()) == 1
