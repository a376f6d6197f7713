"""Cosmos configuration for the dbt project: a pre-built manifest, in-process dbt, profile from a connection."""

from __future__ import annotations

from airflow.sdk import Asset
from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from include.pipeline.config import (
    DBT_EXECUTABLE,
    DBT_MANIFEST,
    DBT_PROJECT_DIR,
    TRINO_AUTH,
    TRINO_CATALOG,
    TRINO_CONN_ID,
)
from include.pipeline.profiles import profile_mapping


def project_config() -> ProjectConfig:
    config = ProjectConfig(dbt_project_path=DBT_PROJECT_DIR, manifest_path=DBT_MANIFEST, project_name="lakehouse",
                           partial_parse=True, install_dbt_deps=False)
    # Cosmos wraps the path in ObjectStoragePath, whose first open loads every Airflow plugin (FastAPI and
    # all, ~1.3 s of a cold parse). The manifest is a local file, so a plain Path reads it directly.
    config.manifest_path = DBT_MANIFEST
    return config


def profile_config() -> ProfileConfig:
    mapping = profile_mapping(TRINO_AUTH)(
        conn_id=TRINO_CONN_ID,
        profile_args={"database": TRINO_CATALOG, "schema": "staging", "threads": 1, "timezone": "UTC"},
    )
    return ProfileConfig(profile_name="lakehouse", target_name="airflow", profile_mapping=mapping)


def render_config() -> RenderConfig:
    # The manifest is built by `dbt parse` at set-up and in the image, so parsing the DAG never runs dbt.
    # Assets are declared statically by attach_model_assets instead of Cosmos's runtime emission.
    # A test on two models (relationships) gets its own task after both, not one after the first.
    return RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
                        emit_datasets=False, should_detach_multiple_parents_tests=True)


def execution_config() -> ExecutionConfig:
    # One in-process dbt invocation per task. ExecutionMode.WATCHER was measured too (docs/benchmarks.md): its
    # model tasks are sensors that wait for a producer task, which `airflow dags test` never reaches.
    return ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER,
                           dbt_executable_path=DBT_EXECUTABLE)


def attach_model_assets(dbt_group) -> None:
    """Declare each model's table as an Asset on the task that builds it.

    Static outlets are known at parse time, so other DAGs can be scheduled on a model (the anomaly
    alerts, say) without the OpenLineage provider that Cosmos's runtime emission needs.
    """
    from include.settings import get_settings

    s = get_settings()
    for unique_id, node in dbt_group.dbt_graph.filtered_nodes.items():
        if not unique_id.startswith("model."):
            continue
        name = unique_id.split(".")[-1]
        task = model_task(dbt_group, name)
        schema = node.config.get("schema") or "staging"
        task.outlets = [Asset(name=f"{schema}.{name}",
                              uri=f"trino://{s.trino_host}:{s.trino_port}/{TRINO_CATALOG}/{schema}/{name}")]


def model_task(dbt_group, model: str):
    """The task that runs `model` (not its tests), to hang downstream work on."""
    from airflow.sdk import TaskGroup

    task = dbt_group.tasks_map[f"model.lakehouse.{model}"]
    if isinstance(task, TaskGroup):
        task = next(t for t in task.children.values() if t.task_id.rsplit(".", 1)[-1] in ("run", f"{model}_run"))
    return task
