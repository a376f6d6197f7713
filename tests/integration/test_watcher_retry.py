"""Trino stops while the WATCHER producer's `dbt build` is building the fact, on a run made by the scheduler.

Trino stays away while the failed model tasks retry (each retry runs its model alone), so they fail for good and one
failure notice comes; Trino comes back, the run fails, its failed tasks are cleared, and the run succeeds. The fact
then has each transaction once and each anomaly is alerted once. One run, one fixture, several assertions on what it
saw (the shorter outage that retries ride out is the same code path up to the clear).

Trino is started again as soon as no dbt task can retry any more, not once the run has failed: its start-up (a
minute or two here) then overlaps the docs and digest tasks, which may fail for good while it is away (each then
sends its own notice) or succeed once it is back; the assertions hold either way.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
from datetime import date

import pytest

from devtools.airflow_api import (
    AirflowApi,
    backfill_day,
    run_state,
    task_instances,
    unpause,
    wait_for_run,
    wait_for_task,
)
from devtools.receiver import read_messages
from devtools.stack.trino import Trino
from include.pipeline.dbt import OneNoticePerRun
from include.settings import REPO_ROOT, trino_connection
from tests.integration.airflow_helpers import delete_runs, wipe_lakehouse
from tests.integration.faults import kill, service

# Marked slow (docs/reliability.md): it takes longer than the README's test command can afford (11 min alone, 25-32 min
# under a load of 20-45). LAKEHOUSE_TEST_SLOW=1 ./scripts/test.sh runs it with the fault tests.
pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

DAY = date(2026, 11, 5)
PRODUCER = "dbt.dbt_producer_watcher"
FACT = "dbt.fact_transactions.run"
DONE = {"success", "failed", "upstream_failed", "skipped"}


def _running_query_of(settings, node: str, timeout: float = 900) -> None:
    """Return once Trino runs a query for dbt node `node`, which dbt's query comment names."""
    cur = trino_connection(settings).cursor()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Not this query itself, which names the table too.
        cur.execute("select count(*) from system.runtime.queries where state in ('PLANNING', 'STARTING', 'RUNNING') "
                    f"and query like '%\"node_id\": \"{node}\"%' and query not like '%system.runtime.queries%'")
        if cur.fetchall()[0][0]:
            return
        time.sleep(0.2)
    raise AssertionError(f"no query for {node} within {timeout:.0f} s")


def _stop_trino_during_fact(api, settings, run_id: str, mark=print) -> None:
    _running_query_of(settings, "model.lakehouse.fact_transactions")
    mark("fact query seen")
    # SIGKILL, not `Trino.stop()`: on SIGTERM Trino shuts down gracefully (shutdown.grace-period), and in one run
    # the fact's statement still finished during those seconds, so its task succeeded and nothing was interrupted.
    kill(service(settings, "trino"))
    mark("trino killed")
    # The producer's `dbt build` fails; it retries only to mark itself skipped, which is what tells the failed
    # model tasks to run their models alone on their own retries.
    wait_for_task(api, run_id, PRODUCER, {"up_for_retry", "skipped", "failed"})


def _wait_for_dbt_tasks_done(api, run_id: str, timeout: float = 1200) -> dict[str, dict]:
    """Return once no model or test task of the run can run again: each has failed for good, succeeded, or its
    upstream failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dbt = {t["task_id"]: t for t in task_instances(api, run_id) if t["task_id"].startswith("dbt.")}
        if dbt and all(t["state"] in DONE for t in dbt.values()):
            return dbt
        time.sleep(2)
    raise AssertionError(f"dbt tasks of {run_id} still going after {timeout:.0f} s")


def _facts(settings) -> dict:
    cur = trino_connection(settings).cursor()
    catalog = settings.trino_catalog
    cur.execute(f"select count(*), count(distinct transaction_id) from {catalog}.marts.fact_transactions")
    rows, keys = cur.fetchall()[0]
    cur.execute(f"select count(*) from {catalog}.staging.stg_transactions")
    return {"rows": rows, "keys": keys, "valid_staged": cur.fetchall()[0][0]}


def _anomaly_ids(messages: list[dict]) -> list[str]:
    """Transaction ids named in anomaly alerts, once per mention."""
    ids = []
    for message in messages:
        for block in message["payload"].get("blocks", []):
            if block.get("type") == "section" and isinstance(block.get("text"), dict):
                ids += re.findall(r"Transaction `([^`]+)`", block["text"]["text"])
    return ids


def _notices(messages: list[dict], run_id: str) -> list[tuple[str, int]]:
    """(task id, try number) of each failure notice sent for `run_id`."""
    found = []
    for message in messages:
        text = message["payload"].get("text", "")
        if text.startswith(":x: Airflow task failed") and f"(run {run_id}," in text:
            dotted = text.split("failed: ", 1)[1].split(" ", 1)[0]
            found.append((dotted.split(".", 1)[1], int(re.search(r", try (\d+)\)", text).group(1))))
    return found


def _notice_marks(api) -> list[str]:
    """Keys of the one-notice-per-run marks (Airflow Variables) still stored."""
    variables = api.get("/api/v2/variables", limit=1000)["variables"]
    return [v["key"] for v in variables if v["key"].startswith(OneNoticePerRun.MARK)]


def _settle(api) -> None:
    """End what an interrupted earlier session left going (an open backfill, its running run) before wiping."""
    for backfill in api.get("/api/v2/backfills", dag_id=api.dag_id, limit=100)["backfills"]:
        if not backfill["completed_at"]:
            api.call("PUT", f"/api/v2/backfills/{backfill['id']}/cancel")
    for run in api.get(f"/api/v2/dags/{api.dag_id}/dagRuns", limit=100, state=["running", "queued"])["dag_runs"]:
        api.patch(f"/api/v2/dags/{api.dag_id}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}",
                  {"state": "failed"})


@pytest.fixture(scope="module")
def outage(settings, s3):
    trino_cur = trino_connection(settings).cursor()
    wipe_lakehouse(settings, trino_cur, s3)
    subprocess.run([sys.executable, "-m", "devtools.datagen", "--start", DAY.isoformat(), "--days", "1",
                    "--transactions-per-day", "400", "--seed", "3", "--reference-skip-rate", "0"],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    api = AirflowApi(settings)
    _settle(api)
    delete_runs(api, [DAY])  # waits for a run marked failed to finish its digest, then deletes it
    unpause(api)
    seen: dict = {}
    trino = Trino(settings)
    t0 = time.monotonic()
    mark = lambda what: print(f"[watcher-retry] {time.monotonic() - t0:7.1f} s {what}", flush=True)  # noqa: E731
    try:
        run = backfill_day(api, DAY)
        mark("run made")
        _stop_trino_during_fact(api, settings, run, mark)
        mark("producer done")
        _wait_for_dbt_tasks_done(api, run)
        mark("dbt tasks done")
        trino.start()
        mark("trino started")
        seen["failed"] = wait_for_run(api, run, timeout=1200)
        mark("run failed")
        seen["failed_tasks"] = {t["task_id"]: t for t in task_instances(api, run)}
        seen["marks_after_failure"] = _notice_marks(api)
        seen["notices_after_failure"] = _notices(read_messages(settings), run)
        api.post(f"/api/v2/dags/{seen['failed']['dag_id']}/clearTaskInstances",
                 {"dry_run": False, "dag_run_id": run, "only_failed": True, "reset_dag_runs": True})
        mark("cleared")
        time.sleep(2)
        seen["recovered"] = wait_for_run(api, run, timeout=1200)
        mark("run recovered")
        seen["facts"] = _facts(settings)
    finally:
        if not trino.running():
            trino.start()  # leave the stack healthy for the tests after this one
    seen["messages"] = read_messages(settings)
    seen["run_id"] = run
    return seen


def test_model_tasks_retry_while_trino_is_away_then_the_run_fails(outage):
    assert outage["failed"]["state"] == "failed", json.dumps(outage["failed"])
    fact = outage["failed_tasks"][FACT]
    assert fact["state"] == "failed" and fact["try_number"] >= 2, fact


def test_the_failed_run_recovers_on_clear(outage, settings):
    assert outage["recovered"]["state"] == "success", json.dumps(run_state(AirflowApi(settings), outage["run_id"]))


def test_no_transaction_is_lost_or_doubled(outage):
    facts = outage["facts"]
    assert facts["rows"] == facts["keys"] == facts["valid_staged"] > 0, facts


def test_each_anomaly_is_alerted_once(outage):
    ids = _anomaly_ids(outage["messages"])
    assert ids, "the generator's anomalies reach the receiver"
    assert len(ids) == len(set(ids))


def test_the_failure_notice_comes_once_on_the_final_failure_only(outage):
    notices = outage["notices_after_failure"]
    failed = {t: ti for t, ti in outage["failed_tasks"].items() if ti["state"] == "failed"}
    models = sorted(t for t in failed if t.startswith("dbt."))
    # The dbt tasks that one outage failed share one notice (include/pipeline/dbt.py, OneNoticePerRun); any other
    # task that failed for good while Trino was away (the docs, the digest) sends its own, once.
    assert FACT in models, sorted(failed)
    model_notices = [(t, n) for t, n in notices if t.startswith("dbt.")]
    assert len(model_notices) == 1 and model_notices[0][0] in models, (notices, models)
    assert sorted(t for t, _ in notices if not t.startswith("dbt.")) == sorted(t for t in failed
                                                                                if not t.startswith("dbt."))
    # Sent by the task's last try, after its retries, not by a try that was retried.
    for task_id, try_number in notices:
        assert try_number == failed[task_id]["try_number"] > 1, (task_id, try_number, failed[task_id])
    assert _notices(outage["messages"], outage["run_id"]) == notices, "nothing more after the clear"


def test_the_failed_runs_digest_leaves_no_notice_mark_behind(outage):
    # A dbt task sent the run's notice, so its mark was set; the digest, last in the run, deleted it.
    assert any(t.startswith("dbt.") for t, _ in outage["notices_after_failure"]), outage["notices_after_failure"]
    assert outage["marks_after_failure"] == [], "the digest deletes its run's mark (OneNoticePerRun.forget)"
