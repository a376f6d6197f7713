"""Every DAG imports cleanly and follows the house rules (as in the Astro template's DAG test)."""

from __future__ import annotations

import json
import os

from include.settings import DbtSettings

DBT_MANIFEST = DbtSettings().manifest


def test_dags_import_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert "lakehouse_pipeline" in dag_bag.dag_ids


def test_every_dag_has_tags_and_docs(dag_bag):
    for dag in dag_bag.dags.values():
        assert dag.tags, dag.dag_id
        assert dag.doc_md, dag.dag_id


def test_every_task_retries_at_least_twice_with_backoff(dag_bag):
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id} retries={task.retries}"
            assert task.retry_exponential_backoff, f"{dag.dag_id}.{task.task_id}"


def test_every_task_alerts_on_failure(dag_bag):
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            assert task.on_failure_callback, f"{dag.dag_id}.{task.task_id} has no on_failure_callback"


def test_dags_have_no_cycles(dag_bag):
    for dag in dag_bag.dags.values():
        dag.check_cycle()


def test_pipeline_runs_one_at_a_time_daily(pipeline):
    assert pipeline.max_active_runs == 1
    assert pipeline.catchup is False  # LAKEHOUSE_CATCHUP unset
    assert pipeline.timetable.summary == "0 0 * * *"


def _models() -> set[str]:
    manifest = json.loads(DBT_MANIFEST.read_text())
    return {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_one_task_per_dbt_model_with_tests_after_it(pipeline):
    run_tasks = {t.task_id for t in pipeline.tasks if t.task_id.startswith("dbt.") and t.task_id.endswith("run")}
    models = _models()
    assert {"stg_assets", "stg_clients", "stg_transactions", "dim_assets", "dim_clients", "fact_transactions",
            "client_investment_summary", "asset_performance_analysis", "transaction_anomaly_detection"} <= models
    names = {tid.removeprefix("dbt.").removesuffix(".run").removesuffix("_run") for tid in run_tasks}
    assert names == models
    for model in ("fact_transactions", "transaction_anomaly_detection", "client_investment_summary"):
        test_ids = [t.task_id for t in pipeline.tasks if t.task_id.startswith(f"dbt.{model}") and "test" in t.task_id]
        assert test_ids, f"{model} has no test task"
        run_id = next(tid for tid in run_tasks if tid.startswith(f"dbt.{model}"))
        assert run_id in pipeline.get_task(test_ids[0]).upstream_task_ids


def test_every_model_emits_its_table_as_an_asset_once_built_and_tested(pipeline):
    from include.pipeline.asset_metadata import ModelEventMetadata

    for task in pipeline.tasks:
        if task.task_id.startswith("dbt.") and task.task_id.endswith("run"):
            tests = pipeline.task_dict.get(task.task_id.removesuffix("run") + "test")
            last = tests or task
            assert len(last.outlets) == 1 and last.outlets[0].uri.startswith("trino://"), task.task_id
            assert isinstance(last.post_execute, ModelEventMetadata), "its events carry data-quality metadata"
            assert not (tests and task.outlets), "one event per model and run, after its tests"


def test_sensors_feed_ingestion_which_feeds_dbt(pipeline):
    for source in ("assets", "clients", "transactions"):
        sensor = pipeline.get_task(f"wait_for_{source}")
        ingest = pipeline.get_task(f"ingest_{source}")
        assert type(sensor).__name__ == "LandingFileSensor"  # always deferrable: it waits in the triggerer
        assert sensor.prefix == f"{source}/dt={{{{ ds }}}}/"
        assert ingest.upstream_task_ids == {sensor.task_id}
        assert ingest.outlets[0].name == f"lakehouse.{source}"
    assert pipeline.get_task("wait_for_transactions").soft_fail is False
    assert pipeline.get_task("wait_for_assets").soft_fail and pipeline.get_task("wait_for_clients").soft_fail
    dbt_roots = [t for t in pipeline.tasks if t.task_id.startswith("dbt.") and not any(
        u.startswith("dbt.") for u in t.upstream_task_ids)]
    assert dbt_roots
    for root in dbt_roots:
        assert {"ingest_assets", "ingest_clients", "ingest_transactions"} <= root.upstream_task_ids


def test_alerts_follow_the_models_they_report_on(pipeline):
    anomaly_run = next(t.task_id for t in pipeline.tasks
                       if t.task_id.startswith("dbt.transaction_anomaly_detection") and t.task_id.endswith("run"))
    assert anomaly_run in pipeline.get_task("alert_anomalies").upstream_task_ids
    rejects = pipeline.get_task("alert_rejects").upstream_task_ids
    for source in ("assets", "clients", "transactions"):
        assert any(t.startswith(f"dbt.stg_{source}_rejected") and t.endswith("run") for t in rejects), source


def _dbt_watchers(pipeline) -> list:
    return [t for t in pipeline.tasks if t.task_id.startswith("dbt.") and hasattr(t, "producer_task_id")]


def test_one_watched_dbt_build_feeds_every_model_and_test_task(pipeline):
    producer = pipeline.get_task("dbt.dbt_producer_watcher")
    assert type(producer).__name__ == "DbtProducerWatcherOperator"
    assert {"ingest_assets", "ingest_clients", "ingest_transactions"} <= producer.upstream_task_ids
    watchers = _dbt_watchers(pipeline)
    assert len(watchers) == len([t for t in pipeline.tasks if t.task_id.startswith("dbt.")]) - 2  # + producer, done
    for task in watchers:
        assert task.producer_task_id == producer.task_id and task.deferrable, task.task_id
        assert task.poke_interval <= 5, "a chain of models pays the poll interval at every step"


def test_the_producer_pushes_a_node_event_once_the_node_has_finished(pipeline):
    """NodeStart, NodeCompiling and NodeExecuting push nothing; NodeFinished pushes the node's event and status."""

    class RecordingTaskInstance:
        def __init__(self):
            self.pushed = []

        def xcom_push(self, key, value):
            self.pushed.append(key)

        def xcom_pull(self, *args, **kwargs):
            return None

    def event(name: str, status: str) -> str:
        node = {"unique_id": "model.lakehouse.dim_assets", "node_status": status, "resource_type": "model",
                "node_started_at": "2026-11-30T07:00:00", "node_finished_at": "2026-11-30T07:00:03"}
        # `msg` names another event: the filter goes by the event's name, not its text.
        return json.dumps({"info": {"name": name, "level": "debug", "msg": "after NodeStart", "ts": "2026-11-30"},
                           "data": {"node_info": node}}, indent=2)

    parse = pipeline.get_task("dbt.dbt_producer_watcher")._make_parse_callable()
    ti = RecordingTaskInstance()
    for name, status in [("NodeStart", "started"), ("NodeCompiling", "compiling"), ("NodeExecuting", "executing")]:
        parse(event(name, status), {"context": {"ti": ti}})
    assert ti.pushed == []
    parse(event("NodeFinished", "success"), {"context": {"ti": ti}})
    assert sorted(ti.pushed) == ["model__lakehouse__dim_assets_dbt_event", "model__lakehouse__dim_assets_status"]


def test_scheduled_builds_and_retried_test_tasks_leave_the_unit_tests_to_ci(pipeline, tmp_path):
    """The producer's `dbt build` and a retried test task's `dbt test` select no unit test, and every data test."""
    import subprocess

    from tests.integration.dbt_helpers import DBT_DIR, dbt_executable

    producer = pipeline.get_task("dbt.dbt_producer_watcher")
    test_tasks = [t for t in _dbt_watchers(pipeline) if t.is_test_sensor]
    assert test_tasks
    for task in [producer, *test_tasks]:
        flags = task.dbt_cmd_flags
        assert ["--exclude-resource-type", "unit_test"] == flags[flags.index("--exclude-resource-type"):][:2], task
    listed = subprocess.run(
        [dbt_executable(), "ls", "--quiet", *producer.dbt_cmd_flags, "--output", "json", "--output-keys",
         "resource_type", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)],
        capture_output=True, text=True, check=True, env={**os.environ, "DBT_TARGET_PATH": str(tmp_path)})
    kinds = [json.loads(line)["resource_type"] for line in listed.stdout.splitlines() if line.startswith("{")]
    assert "unit_test" not in kinds and kinds.count("test") >= 100 and "model" in kinds, set(kinds)


def test_a_test_on_two_models_is_reported_once_after_both(pipeline):
    producer = pipeline.get_task("dbt.dbt_producer_watcher")
    nodes = json.loads(DBT_MANIFEST.read_text())["nodes"]
    two_model_tests = {uid: [p for p in n["depends_on"]["nodes"] if p.startswith("model.")]
                       for uid, n in nodes.items() if n["resource_type"] == "test"
                       and len([p for p in n["depends_on"]["nodes"] if p.startswith("model.")]) > 1}
    assert two_model_tests
    for test, parents in two_model_tests.items():
        owners = [model for model, tests in producer.tests_per_model.items() if test in tests]
        assert len(owners) == 1, (test, owners)
        # Never the earlier of two chained models, whose test task would then wait for the later one.
        for other in set(parents) - set(owners):
            assert owners[0] not in _ancestors(nodes, other), (test, owners[0], other)
    # Each model test task has results to wait for, so none waits for the end of the whole build.
    test_tasks = {t.task_id for t in pipeline.tasks if t.task_id.startswith("dbt.") and t.task_id.endswith(".test")}
    assert test_tasks == {f"dbt.{model.split('.')[-1]}.test" for model in producer.tests_per_model}


def _ancestors(nodes: dict, uid: str) -> set[str]:
    found, todo = set(), [uid]
    while todo:
        for parent in nodes.get(todo.pop(), {}).get("depends_on", {}).get("nodes", []):
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def test_dbt_tasks_share_one_failure_notice_per_run(pipeline):
    from include.pipeline.dbt import OneNoticePerRun

    for task in _dbt_watchers(pipeline):
        # A list: the task runner iterates over it (a bare callable object fails the task's failure handling).
        assert isinstance(task.on_failure_callback, list), task.task_id
        assert any(isinstance(c, OneNoticePerRun) for c in task.on_failure_callback), task.task_id


def test_the_run_digest_comes_last_whatever_happened_and_leaves_the_run_state_alone(pipeline):
    digest = pipeline.get_task("run_digest")
    assert digest.is_teardown and not digest.on_failure_fail_dagrun, "a digest failure must not fail the run"
    # With no setup task, ALL_DONE_SETUP_SUCCESS runs once every upstream task is done, like ALL_DONE.
    assert digest.trigger_rule in ("all_done", "all_done_setup_success")
    assert not any(t.is_setup for t in pipeline.tasks)
    assert not digest.downstream_list
    assert {t.task_id for t in pipeline.tasks if not t.downstream_list} == {"run_digest"}
    assert {"alert_anomalies", "alert_rejects"} <= digest.upstream_task_ids


def test_a_retried_test_task_runs_the_tests_it_reports_and_no_later_models(pipeline, tmp_path):
    """A test task's retry runs `dbt test --select <model>` on its own: with the flags the task adds, dbt selects
    exactly the tests the task reports, never one shared with a later model (the anomaly rows' relationship to the
    fact), which fails while the later model is not built."""
    import subprocess

    from tests.integration.dbt_helpers import DBT_DIR, dbt_executable

    fact = pipeline.get_task("dbt.fact_transactions.test")
    assert "--exclude" in fact.dbt_cmd_flags
    listed = subprocess.run(
        [dbt_executable(), "ls", "--quiet", "--resource-type", "test", "--select", "fact_transactions",
         *fact.dbt_cmd_flags, "--output", "json", "--output-keys", "unique_id",
         "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)],
        capture_output=True, text=True, check=True, env={**os.environ, "DBT_TARGET_PATH": str(tmp_path)})
    selected = {json.loads(line)["unique_id"] for line in listed.stdout.splitlines() if line.startswith("{")}
    reported = set(pipeline.get_task("dbt.dbt_producer_watcher").tests_per_model["model.lakehouse.fact_transactions"])
    assert selected == reported, (selected ^ reported)


def test_maintenance_covers_the_raw_tables_the_ledger_and_every_merged_model_in_order(dag_bag):
    """Every model dbt updates in place (incremental) gets compacted and expired, read from the same manifest."""
    maintenance = dag_bag.dags["lakehouse_maintenance"]
    manifest = json.loads(DBT_MANIFEST.read_text())
    merged = sorted(f"maintain_{n['schema']}__{n['name']}" for n in manifest["nodes"].values()
                    if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental")
    assert {"maintain_marts__fact_transactions", "maintain_intermediate__int_transactions__latest_valid"} <= set(merged)
    order = [t.task_id for t in maintenance.topological_sort()]
    raw = [f"maintain_lakehouse__{t}" for t in ("assets", "clients", "transactions", "ingest_ledger")]
    assert order == ["repair_ledger", *raw, *merged]
