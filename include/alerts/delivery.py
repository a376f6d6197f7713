"""Posting one message to a Slack incoming webhook, with the retries Slack asks for.

A 429 waits as long as its `Retry-After` says (up to a bound; a longer wait gives up now rather than post early),
a 5xx or a connection error backs off exponentially, any other non-200 (400 invalid_payload, 403, 404) gives up at
once. Giving up raises AlertDeliveryError, and a caller records an alert only after `post` returned: an alert that
was not accepted stays unrecorded and a later try sends it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class AlertDeliveryError(RuntimeError):
    """Slack did not accept a message; nothing was recorded for it, so a later try sends it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one message is pushed: `attempts` posts in all, waits between them bounded by `max_wait`."""

    attempts: int = 5
    backoff: float = 1.0
    max_wait: float = 30.0
    # The longest Retry-After honoured by waiting; beyond it the task's own retry (minutes later) does better.
    max_retry_after: float = 60.0

    @classmethod
    def from_settings(cls, alerts=None, **overrides) -> RetryPolicy:
        """The policy of `Settings.alerts` (LAKEHOUSE_ALERT_ATTEMPTS, LAKEHOUSE_ALERT_MAX_RETRY_AFTER); without one,
        those settings as they are now."""
        from include.settings import AlertSettings

        alerts = alerts or AlertSettings()
        return cls(**{"attempts": alerts.attempts, "max_retry_after": alerts.max_retry_after, **overrides})

    def backoff_wait(self, attempt: int) -> float:
        return min(self.backoff * 2 ** attempt, self.max_wait)


def retry_after_seconds(headers: dict | None) -> float | None:
    """Retry-After in seconds (Slack sends an integer); None when absent or not a number."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def _wait_for(status: int, headers: dict | None, attempt: int, policy: RetryPolicy) -> float:
    """Seconds to wait before the next post, or raise when this answer is not worth retrying."""
    if status == 429:
        after = retry_after_seconds(headers)
        if after is None:
            return policy.backoff_wait(attempt)
        if after > policy.max_retry_after:
            raise AlertDeliveryError(f"rate limited: Retry-After {after:g}s is past the "
                                     f"{policy.max_retry_after:g}s bound")
        return after
    if status >= 500:
        return policy.backoff_wait(attempt)
    raise AlertDeliveryError(f"webhook refused the message with HTTP {status}")


def post(client, message: dict, policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
    """Post `message` ({"text", "blocks"}) through a slack_sdk WebhookClient until it answers 200.

    Raises AlertDeliveryError when it never does. Logs status codes and waits only, never the message.
    """
    policy = policy or RetryPolicy.from_settings()
    for attempt in range(policy.attempts):
        last = attempt == policy.attempts - 1
        try:
            resp = client.send(text=message.get("text"), blocks=message.get("blocks"))
        except Exception as exc:  # refused, reset, timed out: Slack may never have seen it
            if last:
                raise AlertDeliveryError(f"webhook unreachable: {type(exc).__name__}") from exc
            wait, why = policy.backoff_wait(attempt), type(exc).__name__
        else:
            if resp.status_code == 200:
                return
            if last:
                raise AlertDeliveryError(f"webhook answered HTTP {resp.status_code} {policy.attempts} times")
            wait, why = _wait_for(resp.status_code, resp.headers, attempt, policy), f"HTTP {resp.status_code}"
        log.warning("alert webhook: %s on attempt %d/%d, retrying in %.1fs", why, attempt + 1, policy.attempts, wait)
        sleep(wait)


def webhook_client(slack_conn_id: str, timeout: int | None = None):
    """The slack_sdk WebhookClient of the Slack provider's hook for `slack_conn_id` (Slack or the local receiver)."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    return SlackWebhookHook(slack_webhook_conn_id=slack_conn_id, timeout=timeout).client
