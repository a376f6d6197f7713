"""What every task of the lakehouse DAGs shares: its owner, retries with backoff, and a Slack notice on failure."""

from __future__ import annotations

from typing import Any

from include.alerts.failure import failure_notifier
from include.settings import Settings


def default_args(settings: Settings) -> dict[str, Any]:
    """The DAGs' `default_args`: the owner, retries with exponential backoff, and the failure notifier.

    The notifier runs only on a task's final failure, after its retries (include/alerts/failure.py).
    """
    p = settings.pipeline
    return {
        "owner": p.owner,
        "retries": p.retries,
        "retry_delay": p.retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": p.max_retry_delay,
        "on_failure_callback": failure_notifier(p.slack_conn_id),
    }
