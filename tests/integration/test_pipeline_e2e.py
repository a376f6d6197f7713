"""The real DAG, run by the stack's scheduler and triggerer as a backfill: layers fill, alerts arrive once,
sensors defer until a real file lands, failures alert, cleared tasks rerun without changing anything.

Slow (each run builds every dbt model): every test reads the one shared backfill (airflow_helpers.shared_backfill).
"""

from __future__ import annotations

import json
import re

import psycopg2
import pytest

from devtools.airflow_api import AirflowApi
from tests.conftest import query
from tests.integration.airflow_helpers import DAY1, DAY2, DAY3, shared_backfill

pytestmark = pytest.mark.integration

RULES = {"amount_outlier", "price_deviation", "velocity_burst", "duplicate_suspect", "oversell", "kyc_violation",
         "new_account_large_trade"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return shared_backfill(tmp_path_factory.mktemp("datagen"))


def _rows_by_day(trino, settings, table: str) -> dict[str, int]:
    trino.execute(f"select regexp_extract(_source_file, 'dt=(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1), count(*) "
                  f"from {settings.trino_catalog}.{table} group by 1")
    return dict(trino.fetchall())


def test_a_full_run_fills_every_layer(runs):
    first = runs["first"]
    assert first["runs"][DAY1]["state"] == "success" and first["runs"][DAY1]["run_type"] == "backfill"
    failed = {t: s for t, s in first["states"][DAY1].items() if s not in ("success", "skipped")}
    assert not failed
    counts = first["counts"]
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
    anomaly_messages = [m["payload"] for m in runs["first"]["alerts"] if "nomal" in m["payload"].get("text", "")
                        and not m["payload"]["text"].startswith("Run digest")]  # a digest counts them too
    assert anomaly_messages, [m["payload"].get("text") for m in runs["first"]["alerts"]]
    severities = []
    for payload in anomaly_messages:
        header = payload["blocks"][0]["text"]["text"].lower()
        severities.append(next(s for s in ("critical", "high", "medium", "low") if s in header))
        assert "/dags/lakehouse_pipeline/runs/" in json.dumps(payload["blocks"]), "each message links to the run"
    order = ["critical", "high", "medium", "low"]
    # Several days ran: within each run's batch of messages, one per severity, most severe first.
    batches: list[list[str]] = [[]]
    for severity in severities:
        if batches[-1] and order.index(severity) <= order.index(batches[-1][-1]):
            batches.append([])
        batches[-1].append(severity)
    assert all(batch == sorted(set(batch), key=order.index) for batch in batches), severities


def test_clearing_finished_tasks_reruns_them_without_changing_data_or_alerting_twice(runs):
    again, first = runs["again"], runs["first"]
    assert {"ingest_transactions", "alert_anomalies", "alert_rejects"} <= set(runs["cleared"])
    assert any("fact_transactions" in t for t in runs["cleared"]), "the incremental fact ran again too"
    assert again["runs"][DAY1]["state"] == "success"
    assert again["runs"][DAY1]["dag_run_id"] == first["runs"][DAY1]["dag_run_id"], "the same run ran again"
    assert again["runs"][DAY1]["end_date"] > first["runs"][DAY1]["end_date"]
    assert all(again["states"][DAY1][t] == "success" for t in runs["cleared"]), again["states"][DAY1]
    assert again["counts"] == first["counts"]
    assert again["alerts"] == first["alerts"]


def test_a_day_without_assets_or_clients_still_builds(runs, trino, settings):
    states = runs["first"]["states"][DAY2]
    assert runs["first"]["runs"][DAY2]["state"] == "success"
    assert states["wait_for_assets"] == "skipped" and states["wait_for_clients"] == "skipped"
    assert states["wait_for_transactions"] == "success"
    assert states["ingest_assets"] == "success" and states["ingest_clients"] == "success"
    assert all(s == "success" for t, s in states.items() if t.startswith("dbt.")), states
    assert _rows_by_day(trino, settings, "marts.fact_transactions").get(str(DAY2), 0) > 0


def test_a_sensor_waits_deferred_for_a_late_file_and_succeeds_once_it_lands(runs, trino, settings):
    late = runs["late"]
    assert late.uploaded_at is not None, f"DAY2's transactions sensor was never seen deferred: {late.seen['day2']}"
    assert late.seen["day2"][0] in (None, "scheduled", "queued", "running", "deferred"), late.seen["day2"]
    assert runs["first"]["states"][DAY2]["wait_for_transactions"] == "success"
    assert runs["first"]["runs"][DAY2]["state"] == "success"
    assert _rows_by_day(trino, settings, "lakehouse.transactions").get(str(DAY2), 0) > 0


def test_a_folder_marker_is_no_arrival_missing_transactions_fail_the_run_and_alert(runs):
    assert "deferred" in runs["late"].seen["day3"], "the sensor waited although the dt= marker was there"
    assert runs["first"]["runs"][DAY3]["state"] == "failed"
    states = runs["first"]["states"][DAY3]
    assert states["wait_for_transactions"] == "failed"
    assert states["ingest_transactions"] == "upstream_failed"
    failures = [m["payload"] for m in runs["first"]["alerts"] if "task failed" in m["payload"].get("text", "").lower()]
    about_sensor = [p for p in failures if "wait_for_transactions" in json.dumps(p)]
    assert len(about_sensor) == 1, [p.get("text") for p in failures]
    text = json.dumps(about_sensor[0])
    for expected in ("lakehouse_pipeline", "try", "Log", "Timeout"):
        assert expected.lower() in text.lower(), expected


def test_no_secret_appears_in_task_logs_or_rendered_templates(runs, settings):
    secrets = [settings.pg_password, settings.s3_secret_key, settings.airflow_fernet_key, settings.airflow_jwt_secret]
    logs = "".join(p.read_text(errors="replace") for p in (settings.home / "airflow" / "logs").rglob("*")
                   if p.is_file())
    assert "wait_for_transactions" in logs, "the scheduler's task logs were read"
    conn = psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                            password=settings.pg_password, dbname=settings.pg_airflow_db)
    with conn, conn.cursor() as cur:
        cur.execute("select rendered_fields::text from rendered_task_instance_fields")
        rendered = "".join(row[0] for row in cur.fetchall())
    conn.close()
    assert rendered, "rendered templates were recorded"
    for secret in secrets:
        assert secret and secret not in logs and secret not in rendered


def test_the_api_lists_a_task_per_model_and_one_run_per_day(runs, settings):
    """What the UI at http://localhost:8080 renders comes from these API calls."""
    api = AirflowApi(settings)
    tasks = api.get("/api/v2/dags/lakehouse_pipeline/tasks")["tasks"]
    task_ids = {t["task_id"] for t in tasks if t["task_id"].startswith("dbt.")}
    for model in ("stg_transactions", "dim_clients", "fact_transactions", "transaction_anomaly_detection"):
        assert any(model in task_id for task_id in task_ids), model
    dag_runs = api.get("/api/v2/dags/lakehouse_pipeline/dagRuns", limit=100)["dag_runs"]
    days = [r["logical_date"][:10] for r in dag_runs]
    for day in (DAY1, DAY2, DAY3):
        assert days.count(day.isoformat()) == 1, (day, days)


def _model_events(api: AirflowApi, run_id: str) -> dict[str, dict]:
    events = api.get("/api/v2/assets/events", source_run_id=run_id, limit=100)["asset_events"]
    return {e["name"] or e["uri"]: e for e in events}


def test_each_models_asset_event_carries_rows_tests_and_rejected_rows(runs, settings):
    """The Assets page shows these: each model's event, after its tests, with its data quality as `extra`."""
    first = runs["first"]
    events = _model_events(AirflowApi(settings), first["runs"][DAY2]["dag_run_id"])
    counts = first["counts"]  # after DAY2: DAY3 builds nothing
    fact = events["marts.fact_transactions"]
    assert fact["source_task_id"].endswith("test"), "emitted once the model's tests are done"
    extra = fact["extra"]
    assert extra["rows"] == counts["marts"]["fact_transactions"]
    assert 0 < extra["rows_added_or_changed"] <= extra["rows"], "DAY2's rows merged (and the lookback's again)"
    assert extra["tests_passed"] > 0 and extra["tests_failed"] == 0, extra
    rejected = events["staging.stg_transactions_rejected"]["extra"]
    assert rejected["rejected_rows"] == counts["rejected rows"]["stg_transactions_rejected"] > 0
    assert sum(rejected["rejected_rows_by_rule"].values()) == rejected["rejected_rows"]
    models = {name for name in events if not name.startswith(settings.raw_schema + ".")}
    assert {"staging.stg_transactions", "marts.dim_clients", "analytics.transaction_anomaly_detection"} <= models
    assert all("tests_passed" in events[m]["extra"] for m in models), {m: events[m]["extra"] for m in models}


def test_dbt_docs_are_published_once_built_again_only_on_a_change_and_without_secrets(runs, settings):
    first = runs["first"]
    assert first["states"][DAY1]["dbt_docs"] == "success", "the first built run publishes them"
    assert first["states"][DAY2]["dbt_docs"] == "skipped", "same project, same tables: the published docs are current"
    assert first["states"][DAY3]["dbt_docs"] == "upstream_failed", "nothing was built, so no docs run"
    folder = settings.home / "dbt-docs"
    files = {name: (folder / name).read_text() for name in ("index.html", "manifest.json", "catalog.json")}
    assert (folder / "fingerprint.txt").read_text() == runs["docs_fingerprint"]
    catalog = json.loads(files["catalog.json"])
    assert "model.lakehouse.fact_transactions" in catalog["nodes"], "the catalog was read from Trino"
    columns = catalog["nodes"]["model.lakehouse.fact_transactions"]["columns"]
    assert "transaction_id" in {c.lower() for c in columns}
    secrets = [settings.pg_password, settings.s3_secret_key, settings.airflow_fernet_key, settings.airflow_jwt_secret,
               settings.airflow_admin_password]
    for name, text in files.items():
        assert not any(s and s in text for s in secrets), name


def _digests(alerts: list[dict]) -> dict[str, list[dict]]:
    """The run digests received, by run id (their text is `Run digest of <dag> run <run id> (<verdict>): …`)."""
    found: dict[str, list[dict]] = {}
    for m in alerts:
        text = m["payload"].get("text", "")
        if text.startswith("Run digest of "):
            found.setdefault(text.split(" run ", 1)[1].split(" (", 1)[0], []).append(m["payload"])
    return found


def _per_source(payload: dict) -> dict[str, tuple[int, int, int]]:
    """(files loaded, rows loaded, rows rejected) per source, from the digest's ingestion lines."""
    text = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    line = r"\*(\w+)\*: (\d+) files? loaded[^·]*· ([\d,]+) rows loaded · ([\d,]+) rejected"
    return {s: (int(f), int(r.replace(",", "")), int(j.replace(",", ""))) for s, f, r, j in re.findall(line, text)}


def test_each_run_ends_with_one_digest_of_its_own_counts_even_after_a_clear(runs, trino, settings):
    assert "run_digest" in runs["cleared"], "the digest task ran again in the cleared run"
    run_ids = {day: runs["first"]["runs"][day]["dag_run_id"] for day in (DAY1, DAY2, DAY3)}
    digests = _digests(runs["again"]["alerts"])
    assert {run: len(digests.get(run, [])) for run in run_ids.values()} == {run: 1 for run in run_ids.values()}
    assert len(digests) == 3
    day1 = digests[run_ids[DAY1]][0]
    for source, (files, rows, rejected) in _per_source(day1).items():
        batch = f"_batch_id = '{run_ids[DAY1]}'"
        ledger = query(trino, f"select count(distinct landing_key) from {settings.trino_catalog}.lakehouse."
                              f"ingest_ledger where source = '{source}' and status = 'loaded' and batch_id = "
                              f"'{run_ids[DAY1]}'")[0][0]
        loaded = query(trino, f"select count(*) from {settings.trino_catalog}.lakehouse.{source} where {batch}")[0][0]
        set_aside = query(trino, f"select count(*) from {settings.trino_catalog}.staging.stg_{source}_rejected "
                                 f"where {batch}")[0][0]
        assert (files, rows, rejected) == (ledger, loaded, set_aside), source
        assert files > 0 and rows > 0, source
    assert re.search(r"\*dbt tests\*: [1-9]\d* passed, 0 failed", json.dumps(day1["blocks"])), day1["text"]
    # The digest comes after the run's alerts: the last message naming DAY1's run is its digest.
    quoted = run_ids[DAY1].replace(":", "%3A").replace("+", "%2B")
    naming = [m["payload"] for m in runs["first"]["alerts"] if quoted in json.dumps(m["payload"])]
    assert naming[-1]["text"].startswith("Run digest of ") and len(naming) > 1
    # DAY3's transactions never came: its digest says so, without dbt results, and the run still failed.
    day3 = json.dumps(digests[run_ids[DAY3]][0])
    assert "Failed: `wait_for_transactions`" in day3 and "no results recorded" in day3
    assert runs["first"]["runs"][DAY3]["state"] == "failed"
