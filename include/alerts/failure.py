"""The task-failure notifier: a Slack message naming the DAG, task, run and try, the exception, and the log link.

Use it as every task's `on_failure_callback` (through `default_args`). Airflow calls it only when a task fails for
good, after its retries; a try that will be retried calls `on_retry_callback` instead.
"""

from __future__ import annotations

import copy
import functools
import re

from include.alerts.messages import escape

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


def _mask_known_secrets(text: str) -> str:
    try:
        # Where Airflow itself says to import it from; it knows the passwords of the connections this process read.
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:
        return text
    return str(redact(text))


def exception_summary(exception: object, limit: int = MAX_EXCEPTION) -> str:
    """The exception as safe Slack text: known secrets masked, URL credentials and webhook tokens removed, cut."""
    if exception is None or exception == "":
        return NO_EXCEPTION
    text = f"{type(exception).__name__}: {exception}" if isinstance(exception, BaseException) else str(exception)
    text = _mask_known_secrets(text)
    text = _URL_USERINFO.sub(r"\1***@", text)
    text = _WEBHOOK_TOKEN.sub(r"\1***", text)
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


def failure_notifier(slack_conn_id: str, timeout: int = 10) -> _LazyFailureNotifier:
    """The Slack provider's webhook notifier for task failures, posting through `slack_conn_id`.

    A short timeout: the callback runs in the failed task's process and should not hold it long when Slack is down.
    """
    return _LazyFailureNotifier(slack_conn_id, timeout)
