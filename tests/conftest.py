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


# scripts/test.sh runs the modules side by side (pytest-xdist), each module whole on one worker so that its module
# fixtures are built once; the two modules reading the one shared backfill share a worker. The longest start first
# so that the short ones fill in around them.
SHARED_BACKFILL = ("test_pipeline_e2e", "test_ui_browser")
LONGEST_FIRST = (*SHARED_BACKFILL, "test_dbt_models", "test_multinode", "test_dbt_rejects", "test_alerts",
                 "test_ingestion", "test_stack")


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: pytest without it (-p no:xdist) ignores it
def pytest_xdist_make_scheduler(config, log):
    """Send each module (the shared-backfill pair as one) to one worker, in collection order.

    Not `--dist loadgroup`: pytest-xdist 3.8 names a group by rewriting `item._nodeid`, which pytest 9 no longer reads.
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return "shared_backfill" if module in SHARED_BACKFILL else module

    return ByModule(config, log)


def pytest_collection_modifyitems(config, items):
    """Fault tests kill and restart the stack's services: run them after everything else that shares the stack
    (scripts/test.sh runs them alone, after the others). The longest modules first, for pytest-xdist."""

    def order(item) -> tuple:
        module = _module(item.nodeid)
        rank = LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)
        return item.get_closest_marker("fault") is not None, rank

    items.sort(key=order)  # stable: tests keep their order within a module
