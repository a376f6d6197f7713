"""The local lakehouse itself: Iceberg tables through Trino on the object store, persistence, status and errors."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import socket
import urllib.error
import urllib.request
import uuid

import psutil
import pytest
from trino.exceptions import TrinoUserError

from devtools.stack.airflow import api_token, passwords_file
from devtools.stack.postgres import Postgres
from devtools.stack.process import StackError, read_pid
from include.settings import env_file_path
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


@pytest.mark.fault  # stops every service: runs alone, after the tests that share the stack
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


# --- The stack is locked down: loopback only, Airflow behind a login, secrets owner-only, retention floors ---------


def _service_ports(settings) -> dict[str, int]:
    return {"postgres": settings.pg_port, "s3proxy": settings.s3_endpoint_host_port[1], "trino": settings.trino_port,
            "webhook": settings.webhook_port, "airflow": settings.airflow_port}


def _other_addresses() -> list[str]:
    """This machine's own addresses that are not loopback (link-local IPv6 needs a scope, so it is left out)."""
    found = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            ip = ipaddress.ip_address(addr.address.split("%")[0])
            if not (ip.is_loopback or ip.is_link_local):
                found.add(str(ip))
    return sorted(found)


def test_every_service_refuses_connections_on_other_interfaces(settings):
    addresses = _other_addresses()
    if not addresses:
        pytest.skip("this machine has no address besides loopback")
    for service, port in _service_ports(settings).items():
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the service is up on loopback, so a refusal below is the binding, not a stopped service
        for address in addresses:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=5).close()
                pytest.fail(f"{service} accepted a connection on {address}:{port}")


def _stack_processes(settings) -> list[psutil.Process]:
    pids = [read_pid(f) for f in (settings.home / "run").glob("*.pid")]
    postmaster = Postgres(settings).data_dir / "postmaster.pid"
    if postmaster.exists():
        pids.append(int(postmaster.read_text().split()[0]))
    roots = [psutil.Process(pid) for pid in pids if pid]
    return roots + [child for root in roots for child in root.children(recursive=True)]


def test_no_stack_process_listens_beyond_loopback(settings):
    """Also catches listeners that are not a service's own port (Airflow's log servers were on 0.0.0.0)."""
    listening = []
    for proc in _stack_processes(settings):
        try:
            sockets = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        listening += [(proc.name(), c.laddr.ip, c.laddr.port) for c in sockets if c.status == psutil.CONN_LISTEN]
    assert {port for _, _, port in listening} >= set(_service_ports(settings).values()), listening

    def loopback(ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        return (getattr(address, "ipv4_mapped", None) or address).is_loopback

    assert [entry for entry in listening if not loopback(entry[1])] == []


def _get(settings, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{settings.airflow_port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            json.load(resp)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_airflow_api_needs_the_admin_login(settings):
    assert _get(settings, "/api/v2/dags") == 401
    assert _get(settings, "/auth/token") == 403, "no anonymous admin token"
    assert _get(settings, "/api/v2/dags", token=api_token(settings)) == 200
    with pytest.raises(StackError, match="AIRFLOW_ADMIN_PASSWORD"):
        api_token(dataclasses.replace(settings, airflow_admin_password="not-the-password"))


def test_secret_files_are_owner_only(settings):
    files = [env_file_path(), passwords_file(settings), settings.home / "s3proxy" / "s3proxy.conf",
             settings.home / "trino" / "etc" / "catalog" / f"{settings.trino_catalog}.properties"]
    assert {str(f): oct(f.stat().st_mode & 0o777) for f in files} == {str(f): "0o600" for f in files}


def _seconds(duration: str) -> float:
    """An airlift duration (`7d` in the settings, `7.00d` as Trino shows it) in seconds."""
    number, unit = re.fullmatch(r"([\d.]+)\s*(ns|us|ms|s|m|h|d)", duration.strip()).groups()
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return float(number) * scale[unit]


def test_expire_snapshots_keeps_the_catalog_retention_floor(trino, settings, smoke_table):
    cat = settings.trino_catalog
    # A session property's default is the catalog's configured value.
    defaults = {row[0]: _seconds(row[2]) for row in query(trino, f"show session like '{cat}.%_min_retention'")}
    floor = _seconds(settings.iceberg_min_retention)
    assert defaults == {f"{cat}.expire_snapshots_min_retention": floor,
                        f"{cat}.remove_orphan_files_min_retention": floor}
    query(trino, f"insert into {smoke_table} values (1, 'one')")
    expire = f"alter table {smoke_table} execute expire_snapshots(retention_threshold => '0s')"
    with pytest.raises(TrinoUserError, match="minimum retention"):
        query(trino, expire)
    # A session may lower the floor for itself, as the maintenance tests do.
    query(trino, f"set session {cat}.expire_snapshots_min_retention = '0s'")
    query(trino, expire)
