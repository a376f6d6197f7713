"""The Starburst Galaxy profile, rendered with placeholder values: dbt's `galaxy` target and the Cosmos mapping
agree (password auth over HTTPS on 443), and the password reaches neither a rendered profile nor a log."""

from __future__ import annotations

import contextlib
import json
import logging
import os

import pytest
import yaml

from include.settings import DbtSettings

SECRET = "placeholder-not-a-real-galaxy-password-7f3c"
HOST = "acme-lakehouse.trino.galaxy.starburst.io"
USER = "ana@example.com/accountadmin"
CATALOG = "lake_iceberg"


def _raw_galaxy_target() -> dict:
    return yaml.safe_load((DbtSettings.project_dir / "profiles.yml").read_text())["lakehouse"]["outputs"]["galaxy"]


@contextlib.contextmanager
def _all_logs():
    """Every record logged meanwhile, at any level. Attached after the imports: importing Airflow reconfigures
    logging and drops handlers installed before it (pytest's caplog among them)."""
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append(record.getMessage())
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_dbt_galaxy_target_reads_the_environment_and_never_holds_or_shows_the_password(monkeypatch):
    from dbt_common.context import set_invocation_context

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer

    raw = _raw_galaxy_target()
    assert raw["password"] == "{{ env_var('TRINO_PASSWORD') }}", "profiles.yml must reference the password, not hold it"
    assert all("env_var(" in raw[key] for key in ("host", "user", "database"))

    for name, value in {"TRINO_HOST": HOST, "TRINO_USER": USER, "TRINO_PASSWORD": SECRET,
                        "TRINO_CATALOG": CATALOG}.items():
        monkeypatch.setenv(name, value)
    set_invocation_context(os.environ)
    raw = read_profile(str(DbtSettings.project_dir))["lakehouse"]
    target, data = Profile.render_profile(raw, "lakehouse", "galaxy", ProfileRenderer({}))
    creds = Profile._credentials_from_profile(data, "lakehouse", target)

    assert (creds.method, str(creds.http_scheme.value), creds.port) == ("ldap", "https", 443)
    assert (creds.host, creds.user, creds.database) == (HOST, USER, CATALOG)
    assert creds.password == SECRET, "the password comes from TRINO_PASSWORD"
    # What `dbt debug` prints about the connection.
    assert SECRET not in str(dict(creds.connection_info()))


@pytest.mark.parametrize("cached", [False, True], ids=["profile-logged-in-full", "profile-cache"])
def test_cosmos_galaxy_profile_renders_an_env_var_reference_and_matches_the_dbt_target(monkeypatch, cached):
    import cosmos.config
    from cosmos import ProfileConfig

    from include.pipeline.profiles import profile_mapping

    # Uncached, Cosmos logs the whole rendered profile; cached (its default), it writes it to its cache directory.
    monkeypatch.setattr(cosmos.config, "is_profile_cache_enabled", lambda: cached)
    # As a Galaxy connection is usually entered: no port and no protocol, which Galaxy fixes at 443 and HTTPS.
    monkeypatch.setenv("AIRFLOW_CONN_TRINO_GALAXY_TEST", json.dumps(
        {"conn_type": "trino", "host": HOST, "login": USER, "password": SECRET}))
    mapping = profile_mapping("galaxy")(conn_id="trino_galaxy_test",
                                        profile_args={"database": CATALOG, "schema": "staging"})
    config = ProfileConfig(profile_name="lakehouse", target_name="galaxy", profile_mapping=mapping)

    with _all_logs() as logs, config.ensure_profile() as (path, env):
        rendered = path.read_text()

    assert SECRET not in rendered, "the rendered profiles.yml must not hold the password"
    target = yaml.safe_load(rendered)["lakehouse"]["outputs"]["galaxy"]
    assert target["password"] == "{{ env_var('COSMOS_CONN_TRINO_PASSWORD') }}"
    assert env["COSMOS_CONN_TRINO_PASSWORD"] == SECRET, "dbt gets the password through its environment only"
    assert (target["host"], target["user"], target["database"]) == (HOST, USER, CATALOG)
    dbt_target = _raw_galaxy_target()
    assert {k: target[k] for k in ("type", "method", "http_scheme", "port")} == \
        {k: dbt_target[k] for k in ("type", "method", "http_scheme", "port")}
    logged = "\n".join(logs)
    if not cached:
        assert "password: '{{ env_var(''COSMOS_CONN_TRINO_PASSWORD'') }}'" in logged, "the profile is logged here"
    assert logs and SECRET not in logged
