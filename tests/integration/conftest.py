"""Fixtures shared by the integration tests."""

from __future__ import annotations

import dataclasses
import uuid

import pytest


@pytest.fixture()
def lake(settings, s3):
    """Settings pointing at fresh landing and quarantine buckets and a fresh raw schema."""
    tag = uuid.uuid4().hex[:8]
    isolated = dataclasses.replace(settings, landing_bucket=f"landing-{tag}", quarantine_bucket=f"quarantine-{tag}",
                                   raw_schema=f"raw_{tag}")
    for bucket in (isolated.landing_bucket, isolated.quarantine_bucket):
        s3.create_bucket(Bucket=bucket)
    return isolated
