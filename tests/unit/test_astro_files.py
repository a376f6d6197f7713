"""The Astro path's files, checked statically (this machine has no Docker engine): they parse, every compose
service has a health check, ports and variables are include/settings.py's, the Trino catalog is the one the local
stack renders, the connections are the DAG's, and no secret is written in them."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from devtools.stack import trino_catalog as tc
from include.settings import REPO_ROOT, Settings, env_keys, get_settings

COMPOSE = REPO_ROOT / "docker-compose.override.yml"
AIRFLOW_SETTINGS = REPO_ROOT / "airflow_settings.yaml"
# Astro's own services, which this file only extends (their image and health come from Astro).
ASTRO_AIRFLOW_SERVICES = {"scheduler", "dag-processor", "api-server", "triggerer"}
# Each lakehouse service: the settings field of its host port, and the port it listens on inside the network.
PORTS = {
    "lakehouse-postgres": ("pg_port", tc.COMPOSE_PG_PORT),
    "lakehouse-s3": (None, tc.COMPOSE_S3_PORT),  # S3_ENDPOINT_URL carries the host port: no variable of its own
    "lakehouse-trino": ("trino_port", tc.COMPOSE_TRINO_PORT),
    "lakehouse-webhook": ("webhook_port", None),
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def connections() -> dict:
    return {c["conn_id"]: c for c in yaml.safe_load(AIRFLOW_SETTINGS.read_text())["airflow"]["connections"]}


@pytest.fixture(scope="module")
def setting_vars() -> dict[str, str]:
    """Each variable include/settings.py reads, mapped to its Settings field (dotted for a section's)."""
    return env_keys()


def test_every_compose_service_has_a_health_check(compose):
    services = compose["services"]
    ours = {name for name, svc in services.items() if "image" in svc}
    assert ours == set(PORTS)
    for name in ours:
        test = services[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL") and not services[name]["healthcheck"].get("disable"), name
        for dep, cond in services[name].get("depends_on", {}).items():
            assert dep in ours and cond == {"condition": "service_healthy"}, f"{name} -> {dep}"
    extended = set(services) - ours
    assert extended == ASTRO_AIRFLOW_SERVICES, "only Astro's Airflow services may appear without an image"
    assert all(set(services[name]) == {"environment"} for name in extended)


def test_compose_ports_are_loopback_and_match_the_settings(compose, setting_vars):
    defaults = tc.default_settings()
    for name, (field, inner) in PORTS.items():
        (mapping,) = compose["services"][name]["ports"]
        bind, host, container = re.fullmatch(r"(?:([\d.]+):)?(.+):(\d+)", mapping).groups()
        assert bind == "127.0.0.1", f"{name} must listen on loopback only"
        if field is None:
            assert int(host) == defaults.s3_endpoint_host_port[1], name
        else:
            var, default = re.fullmatch(r"\$\{(\w+):-(\d+)\}", host).groups()
            assert setting_vars.get(var) == field and int(default) == getattr(defaults, field), name
        assert int(container) == (inner or getattr(defaults, field)), name


def test_compose_variables_are_the_settings_names_and_point_airflow_at_the_services(compose, setting_vars):
    text = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    defaults, inside = tc.default_settings(), tc.compose_settings()
    for var, default in re.findall(r"\$\{(\w+)(?::-([^}]*))?\}", text):
        assert var in setting_vars, f"${{{var}}} is not a variable of include/settings.py"
        assert default == str(getattr(defaults, setting_vars[var])), f"{var}'s fallback differs from settings.py"
    for var in re.findall(r"\$\$(\w+)", text):
        assert var in setting_vars, f"$${var} is not a variable of include/settings.py"
    # What the Airflow containers must see: the compose host names, and no Trino authentication (dbt's
    # LAKEHOUSE_TRINO_AUTH, `Settings.dbt.trino_auth`).
    expected = {var: str(getattr(inside, setting_vars[var])) for var in ("LAKEHOUSE_PG_HOST", "LAKEHOUSE_PG_PORT",
                "S3_ENDPOINT_URL", "TRINO_HOST", "TRINO_PORT", "TRINO_HTTP_SCHEME", "TRINO_PASSWORD")}
    expected["LAKEHOUSE_TRINO_AUTH"] = "none"
    for name in ASTRO_AIRFLOW_SERVICES:
        assert compose["services"][name]["environment"] == expected, name
    assert {inside.pg_host, tc.COMPOSE_S3_HOST, inside.trino_host, tc.COMPOSE_WEBHOOK_HOST} == set(PORTS)
    for bucket in (defaults.landing_bucket, defaults.warehouse_bucket, defaults.quarantine_bucket):
        assert f"/data/{bucket}" in " ".join(compose["services"]["lakehouse-s3"]["entrypoint"])
    assert f"-d {defaults.pg_catalog_db} " in compose["services"]["lakehouse-postgres"]["healthcheck"]["test"][1]


def test_compose_mounts_the_catalog_files_the_local_stacks_renderer_makes(compose, tmp_path):
    for path, text in tc.compose_files().items():
        assert path.read_text() == text, f"{path.relative_to(REPO_ROOT)} is stale: run `{tc.REGENERATE}`"
    volumes = compose["services"]["lakehouse-trino"]["volumes"] + compose["services"]["lakehouse-postgres"]["volumes"]
    assert f"./{tc.COMPOSE_CATALOG_DIR.relative_to(REPO_ROOT)}:/etc/trino/catalog:ro" in volumes
    assert f"./{tc.COMPOSE_INIT_SQL_FILE.parent.relative_to(REPO_ROOT)}:/docker-entrypoint-initdb.d:ro" in volumes

    # The local stack writes the same text for its own hosts, and only the hosts differ.
    from devtools.stack.trino import Trino

    local = dataclasses.replace(tc.default_settings(), home=tmp_path)
    trino = Trino(local)
    trino._write_config()
    written = (trino.etc / "catalog" / f"{local.trino_catalog}.properties").read_text()
    assert written == tc.catalog_properties(local)
    changed = set(written.splitlines()) ^ set(tc.catalog_properties(tc.compose_settings()).splitlines())
    assert {line.split("=", 1)[0] for line in changed} == {"iceberg.jdbc-catalog.connection-url", "s3.endpoint"}


def test_airflow_settings_names_every_connection_the_dag_uses(connections):
    from devtools.stack.airflow import connections as local_connections

    ids = tc.default_settings().pipeline
    dag_ids = {ids.aws_conn_id, ids.trino_conn_id, ids.slack_conn_id}
    assert set(connections) == dag_ids
    local = local_connections(tc.default_settings())
    assert {cid: c["conn_type"] for cid, c in connections.items()} == {cid: local[cid]["conn_type"] for cid in dag_ids}
    inside = tc.compose_settings()
    trino, aws, slack = connections[ids.trino_conn_id], connections[ids.aws_conn_id], connections[ids.slack_conn_id]
    assert (trino["conn_host"], trino["conn_port"], trino["conn_extra"]["protocol"]) == \
        (inside.trino_host, inside.trino_port, inside.trino_http_scheme)
    assert aws["conn_extra"]["endpoint_url"] == inside.s3_endpoint_url
    assert aws["conn_extra"]["region_name"] == inside.s3_region
    assert slack["conn_host"] == f"{tc.COMPOSE_WEBHOOK_HOST}:{inside.webhook_port}/services"


def test_no_secret_is_written_in_the_astro_files(connections, compose):
    aws = connections["aws_lakehouse"]
    assert "conn_login" not in aws and "conn_password" not in aws, "keys come from the environment, not this file"
    assert "conn_password" not in connections["trino_lakehouse"]
    assert "LOCAL" in connections["slack_alerts"]["conn_password"], "only the receiver's local-only token"
    for svc in compose["services"].values():
        for var, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|CREDENTIAL|IDENTITY", var):
                assert value == "", f"{var} must come from .env"
    secret_fields = [f.name for f in dataclasses.fields(Settings) if not f.repr]
    values = (getattr(get_settings(), name) for name in secret_fields)
    secrets = [v for v in values if isinstance(v, str) and len(v) > 6]
    texts = [p.read_text() for p in (COMPOSE, AIRFLOW_SETTINGS, REPO_ROOT / "Dockerfile", *tc.compose_files())]
    assert not any(s in t for s in secrets for t in texts), "a value from .env is written in an Astro file"


def test_image_is_astro_runtime_for_the_pinned_airflow_and_builds_the_dbt_manifest():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    (runtime,) = re.findall(r"^FROM astrocrpublic\.azurecr\.io/runtime:(\d+\.\d+)-\d+(?:-python-3\.\d+)?$",
                            dockerfile, flags=re.M)
    (airflow,) = re.findall(r"^apache-airflow==(\d+\.\d+)\.\d+$", (REPO_ROOT / "requirements.txt").read_text(),
                            flags=re.M)
    assert runtime == airflow, "Astro Runtime 3.x-y ships Airflow 3.x: keep it equal to the apache-airflow pin"
    assert re.search(r"^RUN dbt parse .*--project-dir dbt/lakehouse", dockerfile, flags=re.M)
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".lakehouse", ".venv", "tests", "bench", "airflow_settings.yaml", "dbt/**/target/"} <= ignored
    assert not ignored & {"dags", "include", "dbt", "plugins", "requirements.txt", "packages.txt"}
