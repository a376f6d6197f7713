"""Slack alerts: anomaly and reject notices sent once each through a ledger, the task-failure notifier, and the
loopback receiver that stands in for Slack's incoming webhooks on the local stack."""
