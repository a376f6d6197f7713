"""The local lakehouse itself: Iceberg tables through Trino on the object store, persistence, status and errors."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import query, run_stack

pytestmark = pytest.mark.integration


@pytest.fixture()
def smoke_table(trino, settings):
    name = f"{settings.trino_catalog}.smoke.t_{uuid.uuid4().hex[:8]}"
    query(trino, f"create schema if not exists {settings.trino_catalog}.smoke")
    query(trino, f"create table {name} (id bigint, label varchar)")
    yield name
    query(trino, f"drop table if exists {name}")


def test_trino_writes_and_reads_an_iceberg_table(trino, smoke_table):
    assert query(trino, f"insert into {smoke_table} values (1, 'one'), (2, 'two')") == [[2]]
    assert query(trino, f"select id, label from {smoke_table} order by id") == [[1, "one"], [2, "two"]]


def test_table_files_land_in_the_warehouse_bucket(trino, s3, settings, smoke_table):
    query(trino, f"insert into {smoke_table} values (1, 'one')")
    table = smoke_table.rsplit(".", 1)[1]
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.warehouse_bucket, Prefix="smoke/")
        for obj in page.get("Contents", [])
        if f"/{table}-" in obj["Key"]
    ]
    assert any(k.endswith(".parquet") and "/data/" in k for k in keys), keys
    assert any(k.endswith(".metadata.json") and "/metadata/" in k for k in keys), keys


def test_catalog_supports_what_dbt_needs(trino, settings, smoke_table):
    """CREATE OR REPLACE, MERGE and views all work on the JDBC catalog (its V1 schema holds views)."""
    cat = settings.trino_catalog
    copy, view = f"{smoke_table}_copy", f"{smoke_table}_view"
    query(trino, f"insert into {smoke_table} values (1, 'one'), (2, 'two')")
    query(trino, f"create or replace table {copy} as select * from {smoke_table}")
    query(trino, f"create or replace table {copy} as select * from {smoke_table}")
    query(trino, f"merge into {copy} t using (values (2, 'TWO'), (3, 'three')) s (id, label) on t.id = s.id "
                 "when matched then update set label = s.label when not matched then insert values (s.id, s.label)")
    query(trino, f"create or replace view {view} as select * from {copy} where id >= 2")
    try:
        assert query(trino, f"select id, label from {view} order by id") == [[2, "TWO"], [3, "three"]]
        views = query(trino, f"select table_name from {cat}.information_schema.views where table_schema = 'smoke'")
        assert [view.rsplit(".", 1)[1]] in views
    finally:
        query(trino, f"drop view if exists {view}")
        query(trino, f"drop table if exists {copy}")


def test_data_survives_down_and_up(trino, settings, smoke_table):
    query(trino, f"insert into {smoke_table} values (7, 'kept')")
    down = run_stack("down")
    assert down.returncode == 0, down.stderr
    up = run_stack("up")
    assert up.returncode == 0, up.stderr
    assert query(trino, f"select id, label from {smoke_table}") == [[7, "kept"]]


def test_second_up_changes_nothing(settings):
    pids_before = {p.name: p.read_text() for p in (settings.home / "run").glob("*.pid")}
    up = run_stack("up")
    assert up.returncode == 0, up.stderr
    assert all("already running" in line for line in up.stdout.strip().splitlines()), up.stdout
    assert {p.name: p.read_text() for p in (settings.home / "run").glob("*.pid")} == pids_before


def test_status_reports_each_service(settings):
    status = run_stack("status")
    assert status.returncode == 0, status.stdout + status.stderr
    ports = {"postgres": settings.pg_port, "s3proxy": settings.s3_endpoint_host_port[1], "trino": settings.trino_port}
    for service, port in ports.items():
        line = next(line for line in status.stdout.splitlines() if line.startswith(service))
        assert line.endswith("healthy") and f"port {port} " in line, line


def _assert_clear_error(result, *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in output, output


def test_port_taken_by_another_process_is_a_clear_error(settings, tmp_path):
    # A fresh stack home whose Trino port is PostgreSQL's: the port is busy but not Trino's.
    result = run_stack("up", "trino", env={"LAKEHOUSE_HOME": str(tmp_path), "TRINO_PORT": str(settings.pg_port)})
    _assert_clear_error(result, "trino", f"port {settings.pg_port}", "already in use", "log:")


def test_wrong_postgres_password_is_a_clear_error(settings):
    result = run_stack("status", "postgres", env={"LAKEHOUSE_PG_PASSWORD": "not-the-password"})
    _assert_clear_error(result, "postgres", f"port {settings.pg_port}", "password authentication failed",
                        "LAKEHOUSE_PG_PASSWORD", "log:")


def test_wrong_s3_credentials_are_a_clear_error(settings):
    result = run_stack("status", "s3proxy", env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    _assert_clear_error(result, "s3proxy", "refused the credentials", "AWS_SECRET_ACCESS_KEY", "log:")


def test_missing_jdk_is_a_clear_error(tmp_path):
    result = run_stack("up", "trino", env={"LAKEHOUSE_HOME": str(tmp_path), "TRINO_PORT": "58999",
                                           "LAKEHOUSE_JAVA_HOME": str(tmp_path / "no-jdk")})
    _assert_clear_error(result, "trino", "port 58999", "no working bin/java")
    assert re.search(r"LAKEHOUSE_JAVA_HOME=\S+no-jdk", result.stderr)
