"""Cosmos configuration for the dbt project: a pre-built manifest, one watched `dbt build`, profile from a connection.

ExecutionMode.WATCHER runs the whole project as one in-process `dbt build` (task `dbt_producer_watcher`) and keeps
one task per model and per model's tests: each is a deferrable sensor that succeeds or fails with its node's result
as the build reports it. A retried or cleared model task runs its model alone (`dbt run --select <model>`).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from include.pipeline.assets import table_asset
from include.pipeline.profiles import profile_mapping
from include.settings import DbtSettings, Settings

log = logging.getLogger(__name__)


def project_config(dbt: DbtSettings) -> ProjectConfig:
    config = ProjectConfig(dbt_project_path=dbt.project_dir, manifest_path=dbt.manifest, project_name="lakehouse",
                           partial_parse=True, install_dbt_deps=False)
    # Cosmos wraps the path in ObjectStoragePath, whose first open loads every Airflow plugin (FastAPI and
    # all, ~1.3 s of a cold parse). The manifest is a local file, so a plain Path reads it directly.
    config.manifest_path = dbt.manifest
    return config


def profile_config(settings: Settings) -> ProfileConfig:
    mapping = profile_mapping(settings.dbt.trino_auth)(
        conn_id=settings.pipeline.trino_conn_id,
        profile_args={"database": settings.trino_catalog, "schema": "staging", "threads": settings.dbt.threads,
                      "timezone": "UTC"},
    )
    return ProfileConfig(profile_name="lakehouse", target_name="airflow", profile_mapping=mapping)


def render_config() -> RenderConfig:
    # The manifest is built by `dbt parse` at set-up and in the image, so parsing the DAG never runs dbt.
    # Assets are declared statically by attach_model_assets instead of Cosmos's runtime emission.
    # A test on two models (relationships) is reported by the test task of the later model (see _own_tests):
    # a task of its own would cost a worker process per run and more DAG parse time, for no more information.
    return RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
                        emit_datasets=False, should_detach_multiple_parents_tests=False)


NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


def execution_config(dbt: DbtSettings) -> ExecutionConfig:
    # One in-process `dbt build` instead of one dbt start-up (project copy, manifest, connection) per task:
    # docs/benchmarks.md measures both. The model tasks then wait in the triggerer, not in worker slots.
    # The producer never runs dbt twice: its retry only marks it skipped, which tells the failed models' tasks to
    # run their models alone. So it retries at once, before their own retries look at it.
    # Unit tests check the SQL's logic on fixed rows, not the day's data: dbt recommends running them in development
    # and CI (the test suite does, tests/integration/test_dbt_models.py), not in every production build.
    producer = {"retry_delay": timedelta(seconds=1), "max_retry_delay": timedelta(seconds=5),
                "dbt_cmd_flags": list(NO_UNIT_TESTS)}
    return ExecutionConfig(execution_mode=ExecutionMode.WATCHER, invocation_mode=InvocationMode.DBT_RUNNER,
                           dbt_executable_path=dbt.executable, setup_operator_args=producer)


class OneNoticePerRun:
    """on_failure_callback of the model and test tasks: the first of a run's tasks to fail for good sends the notice.

    One failed `dbt build` (Trino down, say) fails the task of every model it had not yet reported; they share one
    cause, so they share one notice. Airflow calls this only on a task's final failure (a try that will be retried
    calls on_retry_callback). A cleared run that fails again notices again: the mark is per clear of the run. It
    names the run's start too: a day's run deleted and made again (a new backfill of the day) has the same run id
    and clear number, and an old mark under those alone silenced every dbt notice of the new run.
    """

    MARK = "lakehouse_failure_notice"

    def __init__(self, callbacks):
        self.callbacks = callbacks if isinstance(callbacks, list) else [callbacks]

    def __call__(self, context) -> None:
        from airflow.sdk import Variable

        ti, run = context["ti"], context["dag_run"]
        key = self.key(ti.dag_id, run)
        first = Variable.get(key, default=None)
        if first:
            log.warning("Not sending a failure notice for %s: %s already failed in this run", ti.task_id, first)
            return
        Variable.set(key, ti.task_id, description="a dbt task of this run failed for good and sent the notice")
        for callback in self.callbacks:
            callback(context)

    @classmethod
    def forget(cls, dag_id: str, run) -> None:
        """Delete this run's mark: called by the run's digest, which runs last, when no task of this start and clear
        of the run can fail any more (a clear makes a new key). Without it each failed run left a Variable for good."""
        from airflow.sdk import Variable

        Variable.delete(cls.key(dag_id, run))

    @classmethod
    def key(cls, dag_id: str, run) -> str:
        """The Variable marking that a dbt task of this run (this start of it) has sent the notice."""
        started = run.start_date.strftime("%Y%m%dT%H%M%S%f") if run.start_date else "unstarted"
        return f"{cls.MARK}__{dag_id}__{run.run_id}__{getattr(run, 'clear_number', 0) or 0}__{started}"


def tune_watchers(dbt_group, dbt: DbtSettings) -> None:
    """Set up the model and test tasks (Cosmos's watcher sensors) for a daily run.

    They poll the producer's results every `dbt.watch_interval` instead of Cosmos's 10 s, since a chain of models
    pays the wait at every step; retry sooner (see `dbt.retry_delay`); and share one failure notice per run. Each
    test task reports, and on a retry runs, only the tests it owns (see _own_tests).
    """
    producer = next(t for t in dbt_group.iter_tasks() if hasattr(t, "tests_per_model"))
    # An instance attribute, like poke below: the producer calls self._make_parse_callable() for its dbt events.
    producer._make_parse_callable = _finished_node_events(producer._make_parse_callable)
    every = producer.tests_per_model
    own = producer.tests_per_model = _own_tests(every, dbt_group.dbt_graph.filtered_nodes)
    _order_shared_tests(dbt_group, own)
    for task in dbt_group.iter_tasks():
        if hasattr(task, "producer_task_id") and hasattr(task, "poke_interval"):
            task.poke_interval = dbt.watch_interval.total_seconds()
            # An instance attribute: the sensor's execute() calls self.poke(context).
            task.poke = poke_fresh_results
            task.retries, task.retry_delay = max(task.retries, dbt.retries), dbt.retry_delay
            if task.on_failure_callback:
                # Airflow runs the callbacks as a list.
                task.on_failure_callback = [OneNoticePerRun(task.on_failure_callback)]
            if task.is_test_sensor:
                # A retried test task runs `dbt test --select <model>` on its own: like the build, without the unit
                # tests, and without the tests this model shares with a later one (the anomaly rows' relationship
                # to the fact): those are the later model's, and fail while it is not built.
                task.dbt_cmd_flags = [*task.dbt_cmd_flags, *NO_UNIT_TESTS]
                others = set(every.get(task.model_unique_id, [])) - set(own.get(task.model_unique_id, []))
                if others:
                    task.dbt_cmd_flags = [*task.dbt_cmd_flags, "--exclude", *sorted(u.split(".")[2] for u in others)]


# dbt's node lifecycle events before a node's end. The producer's only use of each is one more XCom push (the node's
# `_dbt_event`, which NodeFinished overwrites: the model tasks log the last one). Each push is a round trip to the
# api-server, made in dbt's threads under one lock, so four pushes per node slowed the in-DAG `dbt build` more than
# anything else (docs/benchmarks.md). Cosmos's own issue: astronomer/astronomer-cosmos#2777.
INTERMEDIATE_NODE_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})


def _finished_node_events(make_parse):
    """Wrap the producer's dbt log-line parser so that it skips INTERMEDIATE_NODE_EVENTS."""

    def make():
        parse = make_parse()

        def parse_line(line: str, extra_kwargs) -> None:
            if not _is_intermediate_node_event(line):
                parse(line, extra_kwargs)

        return parse_line

    return make


def _is_intermediate_node_event(line: str) -> bool:
    # Most lines name none of them: only those are decoded (the parser decodes every line again).
    if not any(f'"{name}"' in line for name in INTERMEDIATE_NODE_EVENTS):
        return False
    try:
        return json.loads(line).get("info", {}).get("name") in INTERMEDIATE_NODE_EVENTS
    except (ValueError, AttributeError):
        return False  # not a JSON event: the parser surfaces it as a log line


def poke_fresh_results(context) -> bool:
    """poke() of the watcher tasks: on a first try, trust the producer's results only while they can still change.

    Once the producer is `skipped` (its build failed and its retry gave up the build), a model or test task that
    starts now (it was waiting on a model that failed, and the failed tasks were cleared or have succeeded on
    retry) would read what the failed build said about its node: `failed`, or skipped for the upstream failure.
    Cosmos then fails the try and only the retry runs the node, so every task below an outage pays a failed try and
    a retry delay, and spends a try it may need. Such a task runs its node alone at once instead; a node the build
    did report as succeeded counts as done, as before.
    """
    from cosmos.operators._watcher.state import ProducerTaskState, is_dbt_node_status_success

    task, ti = context["task"], context["ti"]
    if ti.try_number == 1 and task._get_producer_task_status(context) == ProducerTaskState.SKIPPED:
        if not is_dbt_node_status_success(task._get_node_status(ti, context)):
            return task._fallback_to_non_watcher_run(ti.try_number, context)
    return type(task).poke(task, context)


def _order_shared_tests(dbt_group, own: dict[str, list[str]]) -> None:
    """Make the task reporting a test on two models wait for the other model's task too.

    For two models where neither is built from the other (the fact and dim_clients), dbt's one build runs the
    test after both, but nothing in Airflow orders the reporting model's test task after the other model. On a
    retry or a clear, that task runs `dbt test` itself, and could run before the other model is rebuilt: against a
    missing table (a fresh lake) or yesterday's (a relationship failing on today's new clients).
    """
    from airflow.sdk import TaskGroup

    nodes = dbt_group.dbt_graph.filtered_nodes
    for node, tests in own.items():
        group = dbt_group.tasks_map.get(node)
        if not isinstance(group, TaskGroup):
            continue
        reporter = next(t for t in group.children.values() if getattr(t, "is_test_sensor", False))
        parents = {p for t in tests for p in nodes[t].depends_on if p.startswith("model.") and p != node}
        for other in sorted(parents - _ancestors(nodes, node)):  # an ancestor's task is upstream already
            upstream = model_task(dbt_group, other.split(".")[-1])
            if upstream.task_id not in reporter.upstream_task_ids:
                upstream >> reporter


def _own_tests(tests_per_model: dict[str, list[str]], nodes: dict) -> dict[str, list[str]]:
    """Which tests the producer reports as each model's test task result.

    Cosmos counts a test on two models (relationships) among both models' tests, so the earlier model's test task
    would wait for a test that runs only after the later model, and hold up every task below it. Each such test is
    reported by the later model's task alone (for two unrelated models, the last by name), after both are built.
    """
    owner: dict[str, str] = {}
    for test in {t for tests in tests_per_model.values() for t in tests}:
        parents = [p for p in nodes[test].depends_on if p in tests_per_model]
        owner[test] = max(parents, key=lambda p: (len(_ancestors(nodes, p) & set(parents)), p))
    own = {model: [t for t in tests if owner[t] == model] for model, tests in tests_per_model.items()}
    return {model: tests for model, tests in own.items() if tests}


def _ancestors(nodes: dict, uid: str, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    for parent in nodes[uid].depends_on if uid in nodes else []:
        if parent not in seen:
            seen.add(parent)
            _ancestors(nodes, parent, seen)
    return seen


def attach_model_assets(dbt_group, settings: Settings) -> None:
    """Declare each model's table as an Asset on the model's last task, with data quality on its events.

    Static outlets are known at parse time, so other DAGs can be scheduled on a model (the anomaly
    alerts, say) without the OpenLineage provider that Cosmos's runtime emission needs. The last task is the one
    reporting the model's tests (else the model's own), so an event means the table is built and tested; its
    `extra` (include/pipeline/asset_metadata.py) shows rows and test results on the Assets page.
    """
    from include.pipeline.asset_metadata import ModelEventMetadata

    nodes = dbt_group.dbt_graph.filtered_nodes
    producer = next(t for t in dbt_group.iter_tasks() if hasattr(t, "tests_per_model"))
    own_tests = _own_tests(producer.tests_per_model, nodes)
    for unique_id, node in nodes.items():
        if not unique_id.startswith("model."):
            continue
        name = unique_id.split(".")[-1]
        run, tests = model_task(dbt_group, name), model_tests_task(dbt_group, name)
        schema = node.config.get("schema") or "staging"
        asset = table_asset(settings, schema, name)
        last = tests or run
        last.outlets = [asset]
        # Airflow calls a task's post_execute after a successful execute, before it records the outlet events.
        last.post_execute = ModelEventMetadata(asset, node, own_tests.get(unique_id, []), producer.task_id,
                                               [t.task_id for t in (run, tests) if t is not None])


def model_tests_task(dbt_group, model: str):
    """The task reporting `model`'s tests, if it has any."""
    from airflow.sdk import TaskGroup

    group = dbt_group.tasks_map[f"model.lakehouse.{model}"]
    if not isinstance(group, TaskGroup):
        return None
    return next((t for t in group.children.values() if t.task_id.rsplit(".", 1)[-1] in ("test", f"{model}_test")),
                None)


def model_task(dbt_group, model: str):
    """The task that runs `model` (not its tests), to hang downstream work on."""
    from airflow.sdk import TaskGroup

    task = dbt_group.tasks_map[f"model.lakehouse.{model}"]
    if isinstance(task, TaskGroup):
        task = next(t for t in task.children.values() if t.task_id.rsplit(".", 1)[-1] in ("run", f"{model}_run"))
    return task
