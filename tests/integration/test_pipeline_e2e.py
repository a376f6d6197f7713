"""The real DAG, run by Airflow on the real local stack: layers fill, alerts arrive once, failures alert.

Slow (each DAG run builds every dbt model); run as one module so the runs are shared between assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import psycopg2
import pytest

from include.alerts.receiver import read_messages
from include.report import table_counts
from include.settings import REPO_ROOT
from tests.integration.airflow_helpers import latest_run_id, run_dag, task_states, wipe_lakehouse

pytestmark = pytest.mark.integration

DAY1 = date(2026, 11, 20)
DAY2 = DAY1 + timedelta(days=1)
DAY_WITHOUT_FILES = DAY1 + timedelta(days=10)
RULES = {"amount_outlier", "price_deviation", "velocity_burst", "duplicate_suspect", "oversell", "kyc_violation",
         "new_account_large_trade"}


@pytest.fixture(scope="module")
def runs(settings, s3, tmp_path_factory):
    from include.settings import trino_connection

    cur = trino_connection(settings).cursor()
    wipe_lakehouse(settings, cur, s3)
    manifest = tmp_path_factory.mktemp("datagen") / "manifest.json"
    subprocess.run([sys.executable, "-m", "include.datagen", "--start", DAY1.isoformat(), "--days", "2",
                    "--transactions-per-day", "1500", "--seed", "7", "--manifest", str(manifest)],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    # Day 2 without assets or clients: those sources may skip a day.
    for source in ("assets", "clients"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.landing_bucket,
                                                                  Prefix=f"{source}/dt={DAY2}/"):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=settings.landing_bucket, Key=obj["Key"])

    result = {"manifest": json.loads(manifest.read_text())}
    result["day1"] = run_dag(DAY1)
    result["day1_states"] = task_states(latest_run_id(DAY1))
    result["day1_counts"] = table_counts(settings)
    result["day1_alerts"] = read_messages(settings)
    result["day1_again"] = run_dag(DAY1)
    result["day1_again_counts"] = table_counts(settings)
    result["day1_again_alerts"] = read_messages(settings)
    result["day2"] = run_dag(DAY2)
    result["day2_states"] = task_states(latest_run_id(DAY2))
    result["day2_counts"] = table_counts(settings)
    result["missing"] = run_dag(DAY_WITHOUT_FILES)
    result["missing_states"] = task_states(latest_run_id(DAY_WITHOUT_FILES))
    result["all_alerts"] = read_messages(settings)
    return result


def _tail(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout + proc.stderr)[-4000:]


def test_a_full_run_fills_every_layer(runs):
    assert runs["day1"].returncode == 0, _tail(runs["day1"])
    failed = {t: s for t, s in runs["day1_states"].items() if s not in ("success", "skipped")}
    assert not failed
    counts = runs["day1_counts"]
    for layer in ("raw", "staging", "marts", "analytics"):
        for table, n in counts[layer].items():
            assert isinstance(n, int) and n > 0, (layer, table, n)
    assert counts["marts"]["fact_transactions"] == counts["staging"]["stg_transactions"]
    assert counts["rejected rows"]["stg_transactions_rejected"] > 0, "the generator's dirty rows are kept, not lost"


def test_every_anomaly_rule_flags_the_generators_injected_anomalies(runs, trino, settings):
    trino.execute(f"select rule, transaction_id from {settings.trino_catalog}.analytics.transaction_anomaly_detection")
    flagged: dict[str, set] = {}
    for rule, transaction_id in trino.fetchall():
        flagged.setdefault(rule, set()).add(transaction_id)
    assert set(flagged) == RULES, flagged.keys()
    injected = runs["manifest"]["anomalies"]
    for rule, ids in flagged.items():
        # Day 2's new clients were withheld, so some of day 2's injected trades are rejected instead.
        assert ids <= set(injected[rule]["ids"]), (rule, ids - set(injected[rule]["ids"]))


def test_alerts_arrive_at_the_webhook_grouped_by_severity_with_a_run_link(runs):
    anomaly_messages = [m["payload"] for m in runs["day1_alerts"] if "nomal" in m["payload"].get("text", "")]
    assert anomaly_messages, [m["payload"].get("text") for m in runs["day1_alerts"]]
    severities = []
    for payload in anomaly_messages:
        header = payload["blocks"][0]["text"]["text"].lower()
        severities.append(next(s for s in ("critical", "high", "medium", "low") if s in header))
        body = json.dumps(payload["blocks"])
        assert "/dags/lakehouse_pipeline/runs/" in body, "each message links to the Airflow run"
    assert len(severities) == len(set(severities)), "one message per severity"
    order = ["critical", "high", "medium", "low"]
    assert severities == sorted(severities, key=order.index)


def test_rerunning_the_same_day_changes_nothing_and_alerts_nothing_twice(runs):
    assert runs["day1_again"].returncode == 0, _tail(runs["day1_again"])
    assert runs["day1_again_counts"] == runs["day1_counts"]
    assert runs["day1_again_alerts"] == runs["day1_alerts"]


def test_a_day_without_assets_or_clients_still_builds(runs):
    assert runs["day2"].returncode == 0, _tail(runs["day2"])
    states = runs["day2_states"]
    assert states["wait_for_assets"] == "skipped" and states["wait_for_clients"] == "skipped"
    assert states["wait_for_transactions"] == "success"
    assert states["ingest_assets"] == "success" and states["ingest_clients"] == "success"
    assert all(s == "success" for t, s in states.items() if t.startswith("dbt.")), states
    assert runs["day2_counts"]["raw"]["transactions"] > runs["day1_counts"]["raw"]["transactions"]
    assert runs["day2_counts"]["marts"]["fact_transactions"] > runs["day1_counts"]["marts"]["fact_transactions"]


def test_missing_transactions_fail_the_run_and_alert(runs):
    assert runs["missing"].returncode != 0
    states = runs["missing_states"]
    assert states["wait_for_transactions"] == "failed"
    assert states["ingest_transactions"] == "upstream_failed"
    failures = [m["payload"] for m in runs["all_alerts"] if "task failed" in m["payload"].get("text", "").lower()]
    about_sensor = [p for p in failures if "wait_for_transactions" in json.dumps(p)]
    assert about_sensor, [p.get("text") for p in failures]
    text = json.dumps(about_sensor[0])
    for expected in ("lakehouse_pipeline", "try", "Log", "Timeout"):
        assert expected.lower() in text.lower(), expected


def test_no_secret_appears_in_task_logs_or_rendered_templates(runs, settings):
    secrets = [settings.pg_password, settings.s3_secret_key, settings.airflow_fernet_key, settings.airflow_jwt_secret]
    outputs = "".join(runs[k].stdout + runs[k].stderr for k in ("day1", "day1_again", "day2", "missing"))
    logs = "".join(p.read_text(errors="replace") for p in (settings.home / "airflow" / "logs").rglob("*")
                   if p.is_file())
    conn = psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                            password=settings.pg_password, dbname=settings.pg_airflow_db)
    with conn, conn.cursor() as cur:
        cur.execute("select rendered_fields::text from rendered_task_instance_fields")
        rendered = "".join(row[0] for row in cur.fetchall())
    conn.close()
    assert rendered, "rendered templates were recorded"
    for secret in secrets:
        assert secret and secret not in outputs and secret not in logs and secret not in rendered


def test_the_web_ui_shows_the_dag_with_a_task_per_model_and_its_runs(runs, settings):
    """What the UI at http://localhost:8080 renders comes from these API calls."""
    import urllib.request

    def get(path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.airflow_port}{path}", timeout=30) as resp:
            return resp.status, resp.read()

    status, page = get("/")
    assert status == 200 and b"<html" in page.lower()
    tasks = json.loads(get("/api/v2/dags/lakehouse_pipeline/tasks")[1])["tasks"]
    run_tasks = {t["task_id"] for t in tasks if t["task_id"].startswith("dbt.") and t["task_id"].endswith("run")}
    for model in ("stg_transactions", "dim_clients", "fact_transactions", "transaction_anomaly_detection"):
        assert any(model in task_id for task_id in run_tasks), model
    dag_runs = json.loads(get("/api/v2/dags/lakehouse_pipeline/dagRuns?limit=100")[1])["dag_runs"]
    days = {r["logical_date"][:10] for r in dag_runs}
    assert {DAY1.isoformat(), DAY2.isoformat(), DAY_WITHOUT_FILES.isoformat()} <= days
