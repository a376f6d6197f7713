"""Shared fixtures: the settings, clients for the real local stack, and a runner for the stack's command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from include.settings import REPO_ROOT, get_settings, s3_client, trino_connection


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture(scope="session")
def s3(settings):
    return s3_client(settings)


@pytest.fixture()
def trino(settings):
    conn = trino_connection(settings)
    yield conn.cursor()
    conn.close()


def run_stack(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `python -m devtools.stack ...` as a user would, optionally with overridden settings."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "devtools.stack", *args], cwd=REPO_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def query(cur, sql: str) -> list:
    cur.execute(sql)
    return cur.fetchall()


def pytest_collection_modifyitems(config, items):
    """Fault tests kill and restart the stack's services: run them after everything else that shares the stack."""
    items.sort(key=lambda item: item.get_closest_marker("fault") is not None)
