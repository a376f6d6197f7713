"""One settings object: every variable it reads is documented, and nothing else in the image reads the environment
or names the lakehouse's catalog, buckets or connections itself."""

from __future__ import annotations

import ast
import dataclasses
import re
from datetime import timedelta

import pytest

from include.settings import REPO_ROOT, Settings, env_keys

EXAMPLE = REPO_ROOT / ".env.example"
DEPLOY = REPO_ROOT / "docs" / "deploy.md"
IMAGE_CODE = sorted([*(REPO_ROOT / "dags").glob("*.py"), *(REPO_ROOT / "include").rglob("*.py")])
SETTINGS_FILE = REPO_ROOT / "include" / "settings.py"


def _example_values() -> dict[str, str]:
    """`KEY=value` and commented `# KEY=value` lines of .env.example."""
    return dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", EXAMPLE.read_text(), flags=re.M))


def _defaults(cls: type = Settings) -> dict[str, object]:
    found = {}
    for f in dataclasses.fields(cls):
        if "env" in f.metadata:
            found[f.metadata["env"]] = f.metadata["default"]
        elif dataclasses.is_dataclass(f.default_factory):
            found.update(_defaults(f.default_factory))
    return found


def test_every_variable_the_settings_read_is_in_env_example_or_the_deploy_guide():
    documented = set(_example_values()) | set(re.findall(r"`([A-Z][A-Z0-9_]+)", DEPLOY.read_text()))
    assert sorted(set(env_keys()) - documented) == []
    assert {"LAKEHOUSE_ALERT_OUTBOX", "LAKEHOUSE_MAINTENANCE_RETENTION", "LAKEHOUSE_MAX_FILE_BYTES",
            "LAKEHOUSE_MAX_FILE_ROWS", "LAKEHOUSE_DBT_THREADS"} <= set(env_keys())


def test_env_example_shows_the_real_defaults_in_its_commented_lines():
    commented = dict(re.findall(r"^#\s*([A-Z][A-Z0-9_]+)=(\S*)$", EXAMPLE.read_text(), flags=re.M))
    defaults = _defaults()
    checked = {k: v for k, v in commented.items() if k in defaults and "<" not in v}
    assert len(checked) > 20
    for key, shown in checked.items():
        assert shown == str(defaults[key]), f".env.example shows {key}={shown}, the default is {defaults[key]}"


def test_sections_read_their_variables_when_built(monkeypatch):
    monkeypatch.setenv("TRINO_CATALOG", "lake_alt")
    monkeypatch.setenv("LAKEHOUSE_DBT_THREADS", "7")
    monkeypatch.setenv("LAKEHOUSE_POKE_INTERVAL_SECONDS", "9")
    monkeypatch.setenv("LAKEHOUSE_SLACK_CONN_ID", "slack_other")
    s = Settings()
    assert (s.trino_catalog, s.dbt.threads, s.pipeline.poke_interval, s.pipeline.slack_conn_id) == (
        "lake_alt", 7, timedelta(seconds=9), "slack_other")
    monkeypatch.setenv("LAKEHOUSE_DBT_THREADS", "four")
    with pytest.raises(SystemExit, match="LAKEHOUSE_DBT_THREADS"):
        Settings()


def _reads_environment(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree)
            if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"))
            or (isinstance(node, ast.Name) and node.id in ("environ", "getenv"))]


def test_only_the_settings_read_the_environment():
    readers = {str(p.relative_to(REPO_ROOT)): lines for p in IMAGE_CODE if p != SETTINGS_FILE
               if (lines := _reads_environment(ast.parse(p.read_text())))}
    assert readers == {}, "read the setting from include/settings.py's Settings instead"


# What only the settings may name: the catalog, the buckets, the raw schema's tables and the connection ids (their
# defaults), alone or in a qualified name or URI. The pipeline DAG's tag "iceberg" names the table format.
HARD_CODED = re.compile(r"^(iceberg|landing|warehouse|quarantine|aws_lakehouse|trino_lakehouse|slack_alerts)$"
                        r"|\biceberg\.[a-z_]|s3://(landing|warehouse|quarantine)\b"
                        r"|\blakehouse\.(assets|clients|transactions|ingest_ledger)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _texts(tree: ast.AST):
    """Every string literal but docstrings; an f-string with `x` for each placeholder."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)


def hard_coded(path) -> list[str]:
    return [f"{path.relative_to(REPO_ROOT)}:{line} {text[:60]!r}" for line, text in _texts(ast.parse(path.read_text()))
            if HARD_CODED.search(text) and not (path.parent.name == "dags" and text == "iceberg")]


def test_no_module_but_the_settings_names_a_catalog_bucket_or_connection():
    assert [hit for path in IMAGE_CODE if path != SETTINGS_FILE for hit in hard_coded(path)] == []


def test_the_check_sees_a_hard_coded_catalog(tmp_path, monkeypatch):
    """What the alert ledger once did: `f"iceberg.{schema}.alert_log"`."""
    (tmp_path / "ledger.py").write_text('def table(schema):\n    return f"iceberg.{schema}.alert_log"\n')
    monkeypatch.setitem(hard_coded.__globals__, "REPO_ROOT", tmp_path)
    assert hard_coded(tmp_path / "ledger.py") == ["ledger.py:2 'iceberg.x.alert_log'"]
