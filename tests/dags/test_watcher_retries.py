"""How the dbt model and test tasks (Cosmos watchers) behave once the one `dbt build` has failed: found by
tests/integration/test_watcher_retry.py, checked here on the parsed DAG without a stack."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace
from unittest import mock

import pytest

from include.settings import DbtSettings

FACT_TESTS = "dbt.fact_transactions.test"


def _watcher_context(task, try_number: int) -> dict:
    # The sensor reads the producer's XComs through the task instance; here there are none to read.
    ti = SimpleNamespace(try_number=try_number, xcom_pull=lambda *args, **kwargs: None, dag_id=task.dag_id)
    return {"task": task, "ti": ti, "run_id": "manual__test"}


def test_a_test_on_two_unrelated_models_is_reported_after_both_are_built(pipeline):
    """The fact's test task runs the fact's relationships to the dims when retried or cleared: it must come after
    the dims' own tasks, which nothing else orders it after (the fact is not built from them)."""
    producer = pipeline.get_task("dbt.dbt_producer_watcher")
    checked = 0
    for model, tests in producer.tests_per_model.items():
        reporter = pipeline.get_task(f"dbt.{model.split('.')[-1]}.test")
        upstream = reporter.get_flat_relative_ids(upstream=True)
        for test in tests:
            for parent in (p for p in _parents(test) if p != model):
                assert f"dbt.{parent.split('.')[-1]}.run" in upstream, (reporter.task_id, test, parent)
                checked += 1
    assert checked, "the project has tests on two models"
    fact = pipeline.get_task(FACT_TESTS).get_flat_relative_ids(upstream=True)
    assert {"dbt.dim_clients.run", "dbt.dim_assets.run"} <= fact


@functools.cache
def _manifest_nodes() -> dict:
    return json.loads(DbtSettings().manifest.read_text())["nodes"]


def _parents(test: str) -> list[str]:
    return [p for p in _manifest_nodes()[test]["depends_on"]["nodes"] if p.startswith("model.")]


@pytest.mark.parametrize("task_id", [FACT_TESTS, "dbt.dim_clients.run"])
@pytest.mark.parametrize("status", ["fail", "failed", "skipped", None])
def test_a_first_try_after_the_build_gave_up_runs_its_node_alone(pipeline, task_id, status):
    """After a failed build the producer is `skipped`; a task starting its first try then (below a model that failed,
    once cleared) must not fail on what the failed build said about its node: it runs the node alone."""
    task = pipeline.get_task(task_id)
    with mock.patch.object(task, "_get_producer_task_status", return_value="skipped"), \
            mock.patch.object(task, "_get_node_status", return_value=status), \
            mock.patch.object(task, "_fallback_to_non_watcher_run", return_value=True) as run_alone:
        assert task.poke(_watcher_context(task, try_number=1)) is True
    run_alone.assert_called_once()


def test_a_first_try_trusts_the_build_while_it_can_still_report_or_when_it_reported_success(pipeline):
    from airflow.exceptions import AirflowException

    task = pipeline.get_task(FACT_TESTS)
    with mock.patch.object(task, "_get_node_status", return_value="fail"), \
            mock.patch.object(task, "_fallback_to_non_watcher_run", return_value=True) as run_alone:
        # The producer failed and has not retried yet: the task fails this try; its retry runs the tests alone.
        with mock.patch.object(task, "_get_producer_task_status", return_value="failed"), \
                pytest.raises(AirflowException):
            task.poke(_watcher_context(task, try_number=1))
        with mock.patch.object(task, "_get_producer_task_status", return_value="running"):
            with pytest.raises(AirflowException):
                task.poke(_watcher_context(task, try_number=1))
    run_alone.assert_not_called()
    with mock.patch.object(task, "_get_producer_task_status", return_value="skipped"), \
            mock.patch.object(task, "_get_node_status", return_value="pass"), \
            mock.patch.object(task, "_cache_compiled_sql"), \
            mock.patch.object(task, "_fallback_to_non_watcher_run") as run_alone:
        assert task.poke(_watcher_context(task, try_number=1)) is True
    run_alone.assert_not_called()


def test_a_day_run_made_again_under_the_same_run_id_still_gets_its_one_dbt_failure_notice():
    """A day's run deleted and backfilled again has the same run id and clear number: the one-notice-per-run mark
    left by the first run must not silence the new run's notice (found by test_watcher_retry: no notice at all)."""
    from datetime import datetime, timezone

    from include.pipeline.dbt import OneNoticePerRun

    variables: dict[str, str] = {}
    sent: list[str] = []
    notice = OneNoticePerRun(lambda context: sent.append(context["ti"].task_id))

    def fail(task_id: str, started: datetime, clear_number: int = 0) -> None:
        run = SimpleNamespace(run_id="backfill__2026-11-06T00:00:00+00:00", clear_number=clear_number,
                              start_date=started)
        notice({"ti": SimpleNamespace(dag_id="lakehouse_pipeline", task_id=task_id), "dag_run": run})

    first = datetime(2026, 11, 29, 14, 23, tzinfo=timezone.utc)
    again = datetime(2026, 11, 29, 15, 30, tzinfo=timezone.utc)
    store = variables.__setitem__
    with mock.patch("airflow.sdk.Variable.get", side_effect=lambda key, default=None: variables.get(key, default)), \
            mock.patch("airflow.sdk.Variable.set", side_effect=lambda key, value, **kw: store(key, value)):
        fail("dbt.stg_transactions.run", first)
        fail("dbt.fact_transactions.run", first)  # the same outage: no second notice
        fail("dbt.fact_transactions.run", again)  # the day's run made again, same run id
        fail("dbt.fact_transactions.run", again.replace(minute=50), clear_number=1)  # that run cleared, failed again
    assert sent == ["dbt.stg_transactions.run", "dbt.fact_transactions.run", "dbt.fact_transactions.run"]


def test_the_digest_forgets_the_runs_notice_mark_so_marks_do_not_pile_up():
    """Each failed run left its one-notice mark (an Airflow Variable) for good. The digest, last in the run, deletes
    it: the same key the failure callback set, so a notice sent is still one notice, and the next clear has its own."""
    from datetime import datetime, timezone

    from include.pipeline.dbt import OneNoticePerRun

    variables: dict[str, str] = {}
    run = SimpleNamespace(run_id="scheduled__2026-11-06T00:00:00+00:00", clear_number=2,
                          start_date=datetime(2026, 11, 29, 14, 23, tzinfo=timezone.utc))
    notice = OneNoticePerRun(lambda context: None)
    store = variables.__setitem__
    with mock.patch("airflow.sdk.Variable.get", side_effect=lambda key, default=None: variables.get(key, default)), \
            mock.patch("airflow.sdk.Variable.set", side_effect=lambda key, value, **kw: store(key, value)), \
            mock.patch("airflow.sdk.Variable.delete", side_effect=lambda key: variables.pop(key, None)):
        notice({"ti": SimpleNamespace(dag_id="lakehouse_pipeline", task_id="dbt.fact_transactions.run"),
                "dag_run": run})
        assert list(variables) == [OneNoticePerRun.key("lakehouse_pipeline", run)]
        OneNoticePerRun.forget("lakehouse_pipeline", run)
    assert variables == {}
