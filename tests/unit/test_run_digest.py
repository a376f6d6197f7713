"""The run digest as built, before any sending: what it counts, how it reads saved dbt results, Slack's limits."""

from __future__ import annotations

import json
import os

from include.alerts.digest import dbt_counts, digest_key, run_results_dir, task_summary
from include.alerts.messages import DIGEST_PREFIX, MAX_HEADER_TEXT, MAX_SECTION_TEXT, digest_message

RUN_ID = "scheduled__2024-05-01T00:00:00+00:00"
RUN_URL = "http://localhost:8080/dags/lakehouse_pipeline/runs/scheduled__2024-05-01T00%3A00%3A00%2B00%3A00"


def source(loaded=1, quarantined=0, reported=0, rows=100, rejected=0) -> dict:
    return {"files_loaded": loaded, "files_quarantined": quarantined, "files_reported": reported,
            "rows_loaded": rows, "rows_rejected": rejected}


def digest(**overrides) -> dict:
    base = {
        "dag_id": "lakehouse_pipeline", "run_id": RUN_ID,
        "sources": {"assets": source(1, rows=40), "clients": source(0, 0, rows=0),
                    "transactions": source(2, 1, 1, rows=1500, rejected=23)},
        "dbt": {"tests": {"pass": 140, "fail": 2, "warn": 1}, "models": {"success": 12},
                "failed": ["unique_fact_transactions_transaction_id", "not_null_dim_assets_asset_id"]},
        "anomalies": [{"rule": "amount_outlier", "severity": "critical", "count": 3},
                      {"rule": "oversell", "severity": "critical", "count": 1},
                      {"rule": "velocity_burst", "severity": "low", "count": 5},
                      {"rule": "kyc_violation", "severity": "high", "count": 2}],
        "tasks": {"success": 50, "failed": 1, "upstream_failed": 4},
        "failed_tasks": ["wait_for_transactions"], "unavailable": [],
    }
    return {**base, **overrides}


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


def test_the_digest_counts_files_rows_tests_anomalies_and_links_the_run():
    message = digest_message(digest(), RUN_URL, "m-1")
    ingestion, dbt, anomalies, tasks, run_link = sections(message)
    assert ingestion.startswith("*Ingestion*: 3 files loaded, 1 quarantined, 1 reported · 1,540 rows loaded, "
                                "23 rejected")
    assert "• *transactions*: 2 files loaded (1 quarantined, 1 reported) · 1,500 rows loaded · 23 rejected" in ingestion
    assert "• *clients*: 0 files loaded · 0 rows loaded · 0 rejected" in ingestion, "a quiet source still shows"
    assert dbt.startswith("*dbt tests*: 140 passed, 2 failed, 1 warned · *models*: 12 built")
    assert "`unique_fact_transactions_transaction_id`" in dbt
    # Most urgent first, each severity split by rule, largest first.
    assert anomalies.splitlines() == ["*Anomalies*: 11 new",
                                      ":rotating_light: *critical* 4: amount_outlier ×3, oversell ×1",
                                      ":red_circle: *high* 2: kyc_violation ×2",
                                      ":large_yellow_circle: *low* 5: velocity_burst ×5"]
    assert tasks == "*Tasks*: 50 success, 4 upstream failed, 1 failed\nFailed: `wait_for_transactions`"
    assert run_link == f"<{RUN_URL}|Open the Airflow run {RUN_ID}>"
    assert message["blocks"][0]["text"]["text"] == ":x: Run digest: lakehouse_pipeline (with failures)"
    assert message["text"] == (f"{DIGEST_PREFIX} of lakehouse_pipeline run {RUN_ID} (with failures): 3 files loaded, "
                               f"1 quarantined; 1540 rows loaded, 23 rejected; dbt tests 140 passed, 2 failed; "
                               f"11 new anomalies: {RUN_URL}")


def test_a_run_whose_dbt_never_ran_still_reports_what_it_knows():
    message = digest_message(digest(dbt=None, anomalies=[], unavailable=["stg_assets_rejected"]), RUN_URL, "m-2")
    text = json.dumps(message)
    assert "no results recorded for this run" in text and "*Anomalies*: none new" in text
    assert "Could not be read: stg_assets_rejected" in text
    assert "no dbt results" in message["text"] and "1540 rows loaded" in message["text"]


def test_the_verdict_is_clean_only_without_failures_or_rejects():
    clean = digest(sources={"assets": source()}, dbt={"tests": {"pass": 3}, "models": {"success": 1}, "failed": []},
                   tasks={"success": 9}, failed_tasks=[])
    assert digest_message(clean, RUN_URL, "m")["blocks"][0]["text"]["text"].startswith(":white_check_mark:")
    rejected = {**clean, "sources": {"assets": source(rejected=1)}}
    assert digest_message(rejected, RUN_URL, "m")["blocks"][0]["text"]["text"].startswith(":warning:")


def test_names_are_escaped_capped_and_within_slacks_limits():
    many = [f"test_{i}" for i in range(40)]
    hostile = digest(dag_id="d" * 200, dbt={"tests": {"fail": 40}, "models": {}, "failed": many},
                     failed_tasks=["<!channel>"] + many, sources={"<@U1>": source()})
    message = digest_message(hostile, RUN_URL, "m")
    text = json.dumps(message["blocks"])
    assert "<!channel>" not in text and "<@U1>" not in text
    assert "and 30 more" in text and "test_39" not in text
    assert len(message["blocks"][0]["text"]["text"]) <= MAX_HEADER_TEXT
    assert all(len(s) <= MAX_SECTION_TEXT for s in sections(message))


def write_results(run_dir, task_id: str, results: list[tuple[str, str]], mtime: float) -> None:
    path = run_dir / f"{task_id}.json"
    path.write_text(json.dumps({"task_id": task_id, "try_number": 1,
                                "results": [{"unique_id": u, "status": s, "failures": None} for u, s in results]}))
    os.utime(path, (mtime, mtime))


def test_dbt_counts_take_each_nodes_latest_result(tmp_path):
    run_dir = run_results_dir(RUN_ID, tmp_path)
    assert run_dir == tmp_path / RUN_ID and dbt_counts(run_dir) is None, "nothing saved: dbt did not run"
    run_dir.mkdir()
    write_results(run_dir, "dbt.dbt_producer_watcher", [
        ("model.lakehouse.fact_transactions", "error"), ("test.lakehouse.unique_dim_assets_asset_id.1a2b", "pass"),
        ("test.lakehouse.not_null_fact_transactions_id.3c4d", "skipped"),
        ("unit_test.lakehouse.transaction_anomaly_detection.flags_outliers", "fail")], mtime=1000)
    # The model's task retried alone later and built it; its test then ran and passed.
    write_results(run_dir, "dbt.fact_transactions_run", [("model.lakehouse.fact_transactions", "success")], 2000)
    write_results(run_dir, "dbt.fact_transactions_test", [("test.lakehouse.not_null_fact_transactions_id.3c4d",
                                                            "pass")], 3000)
    assert dbt_counts(run_dir) == {"tests": {"pass": 2, "fail": 1}, "models": {"success": 1},
                                   "failed": ["transaction_anomaly_detection.flags_outliers"]}


def test_task_summary_leaves_out_the_digest_and_lists_failures():
    states = {"wait_for_transactions": "failed", "ingest_transactions": "upstream_failed", "run_digest": "running",
              "wait_for_assets": "skipped", "alert_rejects": None}
    counts, failed = task_summary(states, "run_digest")
    assert counts == {"failed": 1, "upstream_failed": 1, "skipped": 1, "not run": 1}
    assert failed == ["wait_for_transactions"]
    assert task_summary(None, "run_digest") == (None, [])
    assert digest_key("lakehouse_pipeline", RUN_ID) == f"lakehouse_pipeline:{RUN_ID}"


def test_the_main_jobs_report_prints_each_runs_digest_as_plain_text(tmp_path):
    import dataclasses

    from devtools.report import alerts_delivered, digests
    from include.alerts.messages import anomaly_message
    from include.settings import get_settings

    settings = dataclasses.replace(get_settings(), home=tmp_path)
    (tmp_path / "webhook").mkdir()
    other = {**digest(), "run_id": "manual__2"}
    received = [anomaly_message("high", [], RUN_ID, RUN_URL, "a"), digest_message(digest(), RUN_URL, "m-1"),
                digest_message(other, RUN_URL, "m-2")]
    (tmp_path / "webhook" / "messages.jsonl").write_text("".join(json.dumps({"payload": p}) + "\n" for p in received))

    assert alerts_delivered(settings) == {"anomalies": 1, "digest": 2}, "a digest naming failures is no failure"
    [lines] = digests(settings, [RUN_ID])
    assert lines[0] == ":x: Run digest: lakehouse_pipeline (with failures)"
    assert "Ingestion: 3 files loaded, 1 quarantined, 1 reported · 1,540 rows loaded, 23 rejected" in lines
    assert f"Open the Airflow run {RUN_ID}" in lines and f"Run {RUN_ID} · digest m-1" in lines
    assert len(digests(settings)) == 2


def test_without_a_results_folder_the_digest_reads_dbt_results_from_xcom_producer_first():
    from types import SimpleNamespace

    from include.alerts.digest import dbt_counts_from
    from include.pipeline.tasks import _dbt_xcom_results

    pushed = {"dbt.dbt_producer_watcher": [{"unique_id": "test.lakehouse.t.1", "status": "fail"}],
              "dbt.stg_assets_test": [{"unique_id": "test.lakehouse.t.1", "status": "pass"}],
              "dbt.stg_assets_run": None}
    pulled = []

    def xcom_pull(task_ids, key):
        pulled.append(list(task_ids))
        return [pushed[t] for t in task_ids]

    dag = SimpleNamespace(task_ids=["dbt.stg_assets_run", "dbt.dbt_producer_watcher", "dbt.stg_assets_test",
                                    "ingest_assets", "run_digest"])
    ti = SimpleNamespace(task=SimpleNamespace(dag=dag), xcom_pull=xcom_pull)
    results = _dbt_xcom_results(ti)
    assert pulled[0][0] == "dbt.dbt_producer_watcher" and "ingest_assets" not in pulled[0]
    # The test failed in the producer's build, then its task ran it alone and it passed.
    assert dbt_counts_from(results) == {"tests": {"pass": 1}, "models": {}, "failed": []}
    assert _dbt_xcom_results(None) == [] and dbt_counts_from([]) is None
