"""The task-failure notifier: a Slack message naming the DAG, task, run and try, the exception, and the log link.

Use it as every task's `on_failure_callback` (through `default_args`). Airflow calls it only when a task fails for
good, after its retries; a try that will be retried calls `on_retry_callback` instead.

A notice the webhook does not accept (down, 5xx, rate limited past the bound) is parked in the durable outbox
(include/alerts/outbox.py) and posted by the next alert task or the next failure callback, once.
"""

from __future__ import annotations

import copy
import functools
import logging
import re

from include.alerts.delivery import RetryPolicy, post, webhook_client
from include.alerts.messages import escape
from include.alerts.outbox import configured_outboxes, drain, park

log = logging.getLogger(__name__)
# The callback holds the failed task's worker: a few seconds of retries, then the outbox.
CALLBACK_POLICY = RetryPolicy(attempts=3, max_retry_after=10.0)

MAX_EXCEPTION = 1000
NO_EXCEPTION = "no exception recorded (the task may have been killed, timed out or lost its worker)"

# Rendered by Airflow against the task's context. `exception_summary` is added by the notifier: the exception,
# redacted and cut to MAX_EXCEPTION characters. The exception is the only free text in the message; ids and the
# log URL never carry credentials, so redacting it is what keeps connection passwords out of Slack.
FAILURE_TEXT = (
    ":x: Airflow task failed: {{ ti.dag_id }}.{{ ti.task_id }} (run {{ run_id }}, try {{ ti.try_number }}). "
    "<{{ ti.log_url }}|Log>\n{{ exception_summary }}"
)
FAILURE_BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": ":x: Airflow task failed", "emoji": True}},
    {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": "*DAG*\n`{{ ti.dag_id }}`"},
            {"type": "mrkdwn", "text": "*Task*\n`{{ ti.task_id }}`"},
            {"type": "mrkdwn", "text": "*Run*\n`{{ run_id }}`"},
            {"type": "mrkdwn", "text": "*Try*\n{{ ti.try_number }}"},
        ],
    },
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Exception*\n```{{ exception_summary }}```"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "<{{ ti.log_url }}|Open the task log>"}},
]

# Credentials that may sit inside an exception's text even when the secrets masker does not know them.
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_WEBHOOK_TOKEN = re.compile(r"(/services/)[^\s'\"<>]+")
# Data that may sit inside an exception's text: errors quote the value they choked on ("Cannot cast 'x' to ...").
_QUOTED = re.compile(r"'[^'\n]{0,2000}'|\"[^\"\n]{0,2000}\"")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def _mask_known_secrets(text: str) -> str:
    try:
        # Where Airflow itself says to import it from; it knows the passwords of the connections this process read.
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:
        return text
    return str(redact(text))


def exception_summary(exception: object, limit: int = MAX_EXCEPTION) -> str:
    """The exception as safe Slack text: known secrets masked, URL credentials and webhook tokens removed, quoted
    values and email addresses hidden (an error about a cell quotes the cell), cut to `limit`."""
    if exception is None or exception == "":
        return NO_EXCEPTION
    text = f"{type(exception).__name__}: {exception}" if isinstance(exception, BaseException) else str(exception)
    text = _mask_known_secrets(text)
    text = _URL_USERINFO.sub(r"\1***@", text)
    text = _WEBHOOK_TOKEN.sub(r"\1***", text)
    text = _EMAIL.sub("[email]", _QUOTED.sub("'…'", text))
    # Triple backticks would close the code block the exception is shown in.
    text = escape(text.replace("```", "'''"))
    if len(text) <= limit:
        return text
    # Cut before a half-written entity (&amp;) rather than through it.
    return re.sub(r"&[a-z]*$", "", text[: limit - 1]) + "…"


@functools.cache
def _notifier_class():
    # The Slack provider pulls in slack_sdk: import it when a notifier is built, not when a DAG file imports this.
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    class FailureNotifier(SlackWebhookNotifier):
        """SlackWebhookNotifier that adds `exception_summary` to the context and renders a fresh copy each call."""

        def __call__(self, *args):
            # One instance serves every task through default_args, and rendering overwrites the templates in
            # place; a copy keeps them for the next failure in the same process (e.g. `dag.test()`).
            return super(FailureNotifier, copy.copy(self)).__call__(*args)

        def render_template_fields(self, context, jinja_env=None) -> None:
            context["exception_summary"] = exception_summary(context.get("exception"))
            super().render_template_fields(context, jinja_env)

        def notify(self, context) -> None:
            message = {"text": self.text, "blocks": self.blocks}
            deliver_failure_notice(lambda: self.hook.client, message, notice_id(context))

    return FailureNotifier


class _LazyFailureNotifier:
    """Builds the Slack notifier on the first failure, so parsing a DAG never imports the Slack provider.

    That import (slack_sdk, aiohttp) costs about half a second of every cold DAG parse.
    """

    def __init__(self, slack_conn_id: str, timeout: int):
        self.slack_conn_id, self.timeout = slack_conn_id, timeout

    def build(self):
        return _notifier_class()(
            slack_webhook_conn_id=self.slack_conn_id,
            text=FAILURE_TEXT,
            blocks=copy.deepcopy(FAILURE_BLOCKS),
            timeout=self.timeout,
        )

    def __call__(self, *args):
        return self.build()(*args)


def notice_id(context) -> str:
    """One id per final failure of one task instance: a repeated callback for it parks one copy."""
    ti = context.get("ti")
    parts = [getattr(ti, "dag_id", None), context.get("run_id"), getattr(ti, "task_id", None),
             getattr(ti, "map_index", -1), getattr(ti, "try_number", None)]
    return "failure:" + "/".join(str(p) for p in parts)


def deliver_failure_notice(client_factory, message: dict, notice: str, outboxes: list | None = None,
                           policy: RetryPolicy | None = None) -> str:
    """Post the notice, or park it in the outbox when the webhook does not take it; "sent" or "parked".

    A webhook that takes it is up again, so the notices parked before are posted right after it.
    Raises OutboxError only when the notice could be neither posted nor parked.
    """
    outboxes = configured_outboxes() if outboxes is None else outboxes
    policy = policy or CALLBACK_POLICY
    try:
        client = client_factory()
        post(client, message, policy)
    except Exception as exc:  # down, refused, rate limited, or no connection configured: keep it for later
        where = park(outboxes, notice, message)
        log.warning("failure notice %s not delivered (%s); parked in %s", notice, type(exc).__name__, where)
        return "parked"
    try:
        drain(outboxes, lambda m: post(client, m, policy))
    except Exception as exc:  # the task already failed; the next alert task drains what is left
        log.warning("alert outbox not drained: %s", type(exc).__name__)
    return "sent"


def deliver_parked_notices(slack_conn_id: str, outboxes: list | None = None, policy: RetryPolicy | None = None) -> int:
    """Post every parked failure notice (the alert tasks call this); raises AlertDeliveryError if Slack is down."""
    outboxes = configured_outboxes() if outboxes is None else outboxes
    client = functools.cache(lambda: webhook_client(slack_conn_id))
    return drain(outboxes, lambda m: post(client(), m, policy))


def failure_notifier(slack_conn_id: str, timeout: int = 10) -> _LazyFailureNotifier:
    """The Slack provider's webhook notifier for task failures, posting through `slack_conn_id`.

    A short timeout: the callback runs in the failed task's process and should not hold it long when Slack is down.
    """
    return _LazyFailureNotifier(slack_conn_id, timeout)
