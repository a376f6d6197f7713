"""The `.env` file: generated on first `up`, upgraded in place later, owner-only, and never a placeholder secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.stack.envfile import ensure_env_file
from include.settings import PLACEHOLDER, REPO_ROOT, get_settings


def _values(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


@pytest.fixture()
def clean_environ():
    """get_settings() copies `.env` into os.environ; put the process environment back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_first_up_generates_every_placeholder_including_the_airflow_admin_password(tmp_path):
    env = ensure_env_file(tmp_path / ".env")
    values = _values(env)
    assert not any(PLACEHOLDER in value for value in values.values())
    assert len(values["AIRFLOW_ADMIN_PASSWORD"]) >= 24 and values["AIRFLOW_ADMIN_USER"] == "admin"
    assert values["AIRFLOW_ADMIN_PASSWORD"] != values["LAKEHOUSE_PG_PASSWORD"]
    assert env.stat().st_mode & 0o777 == 0o600


def test_an_older_env_file_is_upgraded_in_place(tmp_path):
    """A `.env` made before AIRFLOW_ADMIN_PASSWORD existed gains it; its own secrets stay; it becomes 0600."""
    old_example = tmp_path / "old.env.example"
    old_example.write_text("\n".join(line for line in (REPO_ROOT / ".env.example").read_text().splitlines()
                                     if not line.startswith(("AIRFLOW_ADMIN_", "LAKEHOUSE_ICEBERG_"))))
    env = ensure_env_file(tmp_path / ".env", example=old_example)
    before = _values(env)
    assert "AIRFLOW_ADMIN_PASSWORD" not in before
    env.write_text(env.read_text().rstrip("\n"))  # hand-edited: no final newline
    env.chmod(0o644)

    ensure_env_file(env)

    after = _values(env)
    assert {k: after[k] for k in before} == before, "existing values are kept"
    assert len(after["AIRFLOW_ADMIN_PASSWORD"]) >= 24 and PLACEHOLDER not in after["AIRFLOW_ADMIN_PASSWORD"]
    assert after["LAKEHOUSE_ICEBERG_MIN_RETENTION"] == "7d"
    assert env.stat().st_mode & 0o777 == 0o600
    ensure_env_file(env)
    assert _values(env) == after, "a second run changes nothing"


def test_a_placeholder_left_in_env_is_refused_naming_the_key(tmp_path, monkeypatch, clean_environ):
    env = ensure_env_file(tmp_path / ".env")
    secret = _values(env)["LAKEHOUSE_PG_PASSWORD"]
    env.write_text(env.read_text().replace(f"AIRFLOW_ADMIN_PASSWORD={_values(env)['AIRFLOW_ADMIN_PASSWORD']}",
                                           f"AIRFLOW_ADMIN_PASSWORD={PLACEHOLDER}"))
    monkeypatch.setenv("LAKEHOUSE_ENV_FILE", str(env))
    for key in _values(env):
        os.environ.pop(key, None)
    with pytest.raises(SystemExit) as refused:
        get_settings()
    message = str(refused.value)
    assert "AIRFLOW_ADMIN_PASSWORD" in message and str(env) in message and "devtools.stack up" in message
    assert "LAKEHOUSE_PG_PASSWORD" not in message and secret not in message


def test_the_stack_command_refuses_a_hand_copied_example(tmp_path):
    env = tmp_path / ".env"
    env.write_text((REPO_ROOT / ".env.example").read_text())
    child_env = {k: v for k, v in os.environ.items() if k not in _values(env)}
    child_env.update(LAKEHOUSE_ENV_FILE=str(env), LAKEHOUSE_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-m", "devtools.stack", "up"], cwd=REPO_ROOT, env=child_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    for key in ("LAKEHOUSE_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_FERNET_KEY"):
        assert key in result.stderr
    assert not (tmp_path / "home").exists(), "nothing is started with placeholder secrets"
