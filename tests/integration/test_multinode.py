"""The same package on a distributed Trino: `python -m devtools.stack up trino --trino-workers 2` starts a second
Trino, a coordinator that schedules no work plus two workers (three JVMs on loopback), on the shared catalog
database and object store. One generated day is loaded and every model of the dbt project is built on it
unchanged; the marts have rows and the work ran on both workers.

Everything is isolated: other ports and LAKEHOUSE_HOME for the cluster, fresh buckets, a fresh raw schema and
dbt schemas with their own suffix.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import uuid
from datetime import date

import pytest

from include.ingestion.loader import load
from include.settings import trino_connection
from tests.conftest import query, run_stack
from tests.integration.dbt_helpers import DBT_DIR, LAYERS, dbt_executable

pytestmark = pytest.mark.integration

WORKERS = 2
DAY = date(2026, 11, 20)


def _free_ports(count: int) -> int:
    """A base port with `count` consecutive free ports after it (coordinator, then one per worker)."""
    for base in range(58_900, 59_900, 10):
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports for the Trino cluster")


@pytest.fixture(scope="module")
def cluster(settings, tmp_path_factory):
    port = _free_ports(WORKERS + 1)
    env = {"LAKEHOUSE_HOME": str(tmp_path_factory.mktemp("multinode-home")), "TRINO_PORT": str(port),
           "TRINO_HEAP": "1G", "TRINO_WORKER_HEAP": "1G"}
    up = run_stack("up", "trino", "--trino-workers", str(WORKERS), env=env, timeout=900)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = run_stack("status", "trino", env=env)  # no option: the workers are found by their pid files
        yield dataclasses.replace(settings, trino_port=port), env, status
    finally:
        down = run_stack("down", "trino", env=env)
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture(scope="module")
def built(cluster, settings, s3, tmp_path_factory):
    """One small generated day loaded into fresh buckets and schema, then the seed and every model built on the
    cluster."""
    from devtools.datagen import GeneratorConfig, write_to_s3

    cluster_settings, env, _ = cluster
    tag = uuid.uuid4().hex[:8]
    lake = dataclasses.replace(cluster_settings, landing_bucket=f"landing-mn-{tag}",
                               quarantine_bucket=f"quarantine-mn-{tag}", raw_schema=f"raw_mn_{tag}")
    for bucket in (lake.landing_bucket, lake.quarantine_bucket):
        s3.create_bucket(Bucket=bucket)
    write_to_s3(GeneratorConfig(start=DAY, days=1, transactions_per_day=500, broken_files=False), settings=lake,
                client=s3)
    report = load(lake, up_to=DAY.isoformat())
    suffix = f"_mn_{tag}"
    target = tmp_path_factory.mktemp("dbt-multinode")
    # The seed and every model the DAG builds; their tests run in the shared e2e (a second copy of the 150 tests
    # would add minutes to the suite and prove nothing more about the cluster).
    cmd = [dbt_executable(), "build", "--exclude", "resource_type:test", "resource_type:unit_test", "--project-dir",
           str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--vars",
           f'{{"raw_schema": "{lake.raw_schema}", "schema_suffix": "{suffix}", "as_of_date": "{DAY}"}}']
    dbt_env = {**os.environ, "TRINO_PORT": str(lake.trino_port), "DBT_TARGET_PATH": str(target / "target"),
               "DBT_LOG_PATH": str(target / "logs")}
    result = subprocess.run(cmd, cwd=DBT_DIR, env=dbt_env, capture_output=True, text=True, timeout=1500)
    conn = trino_connection(lake)
    yield lake, report, result, suffix, conn.cursor()
    cur = conn.cursor()
    for schema in (lake.raw_schema, *(f"{layer}{suffix}" for layer in LAYERS)):
        query(cur, f"drop schema if exists {lake.trino_catalog}.{schema} cascade")
    conn.close()


def test_the_cluster_is_a_coordinator_and_two_active_workers(cluster):
    lake, _, status = cluster
    cur = trino_connection(lake).cursor()
    assert query(cur, "select coordinator, count(*) from system.runtime.nodes where state = 'active' "
                      "group by 1 order by 1") == [[False, WORKERS], [True, 1]]
    assert status.returncode == 0 and f"coordinator + {WORKERS} worker(s)" in status.stdout, status.stdout


def test_the_dbt_models_build_unchanged_on_the_cluster_and_their_work_runs_on_both_workers(built):
    lake, report, result, suffix, cur = built
    assert report.rows_loaded > 0
    assert result.returncode == 0, result.stdout[-3000:]
    catalog = lake.trino_catalog
    for table in (f"marts{suffix}.fact_transactions", f"marts{suffix}.dim_clients",
                  f"analytics{suffix}.client_investment_summary"):
        assert query(cur, f"select count(*) > 0 from {catalog}.{table}") == [[True]], table
    # The coordinator schedules nothing: the build's tasks ran on the workers, and on both of them.
    nodes = query(cur, "select distinct t.node_id from system.runtime.tasks t join system.runtime.nodes n "
                       "on n.node_id = t.node_id where not n.coordinator")
    assert len(nodes) == WORKERS
