"""The dbt project on the real local stack: hand-made dirty deliveries arrive in three batches, dbt runs
incrementally after each, and the results are checked against a full refresh and against an independent
pandas recomputation of the cleaning rules and the analytics.

Everything is built beside the pipeline's own tables: raw rows in `dbt_it_raw`, models in
`staging_dbt_it`, `marts_dbt_it` and `analytics_dbt_it`.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from include.settings import trino_connection
from tests.integration.dbt_helpers import (
    CONTRACT,
    build_deliveries,
    create_raw_tables,
    expected_asset_performance_analysis,
    expected_client_investment_summary,
    insert_delivery,
    reference_tables,
    rejected_records,
    run_dbt,
)

pytestmark = pytest.mark.integration

RAW_SCHEMA = "dbt_it_raw"
SUFFIX = "_dbt_it"
# No lookback: every incremental run reads only what is new, so the merge logic is what gets tested.
DBT_VARS = {"raw_schema": RAW_SCHEMA, "schema_suffix": SUFFIX, "fact_lookback_hours": 0}
ANALYTICS = ("client_investment_summary", "asset_performance_analysis", "transaction_anomaly_detection")


def _rows(cur, sql: str) -> list[dict]:
    cur.execute(sql)
    rows = cur.fetchall()
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=False)) for row in rows]


def _table(cur, catalog: str, schema: str, name: str, order_by: str) -> list[dict]:
    return _rows(cur, f"select * from {catalog}.{schema}{SUFFIX}.{name} order by {order_by}")


def _dbt_ok(result, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@pytest.fixture(scope="module")
def built(settings, tmp_path_factory):
    """Load the three batches, running dbt after each; then snapshot, full-refresh and snapshot again."""
    catalog = settings.trino_catalog
    target = tmp_path_factory.mktemp("dbt")
    conn = trino_connection(settings)
    cur = conn.cursor()
    for layer in ("staging", "marts", "analytics"):
        _rows(cur, f"drop schema if exists {catalog}.{layer}{SUFFIX} cascade")
    create_raw_tables(cur, catalog, RAW_SCHEMA)

    batches, expected_anomalies = build_deliveries()
    commands = [
        # Unit tests run once, in the last build.
        ("build", "--exclude", "test_type:unit"),
        ("run",),
        ("build",),
    ]
    results = []
    for number, (batch, command) in enumerate(zip(batches, commands, strict=False), start=1):
        for delivery in batch:
            insert_delivery(cur, catalog, RAW_SCHEMA, delivery, f"batch-{number}")
        result = run_dbt(*command, dbt_vars=DBT_VARS, target_path=target)
        _dbt_ok(result, f"dbt {' '.join(command)} after batch {number}")
        results.append(result)
    run_results = json.loads((target / "target" / "run_results.json").read_text())

    incremental = {name: _table(cur, catalog, "analytics", name, "1, 2") for name in ANALYTICS}
    incremental["fact_transactions"] = _table(cur, catalog, "marts", "fact_transactions", "transaction_id")
    refresh = run_dbt("run", "--full-refresh", dbt_vars=DBT_VARS, target_path=target)
    _dbt_ok(refresh, "dbt run --full-refresh")
    full = {name: _table(cur, catalog, "analytics", name, "1, 2") for name in ANALYTICS}
    full["fact_transactions"] = _table(cur, catalog, "marts", "fact_transactions", "transaction_id")

    raw = {table: _rows(cur, f"select * from {catalog}.{RAW_SCHEMA}.{table}") for table in CONTRACT}
    yield SimpleNamespace(cur=cur, catalog=catalog, target=target, run_results=run_results, raw=raw,
                          ref=reference_tables(raw), incremental=incremental, full=full,
                          expected_anomalies=expected_anomalies)
    conn.close()


def test_last_build_ran_every_model_data_test_and_unit_test(built):
    statuses = {}
    for result in built.run_results["results"]:
        kind = result["unique_id"].split(".")[0]
        statuses.setdefault(kind, []).append(result["status"])
    assert statuses["model"] and set(statuses["model"]) == {"success"}
    assert len(statuses["test"]) > 100 and set(statuses["test"]) == {"pass"}
    assert len(statuses["unit_test"]) >= 12 and set(statuses["unit_test"]) == {"pass"}


def test_incremental_runs_give_the_same_fact_as_a_full_refresh(built):
    incremental, full = built.incremental["fact_transactions"], built.full["fact_transactions"]
    assert len(incremental) == len(built.ref["current_transactions"])
    assert [row["transaction_id"] for row in incremental] == [row["transaction_id"] for row in full]
    for before, after in zip(incremental, full, strict=False):
        assert before == after, before["transaction_id"]


@pytest.mark.parametrize("name", ANALYTICS)
def test_analytics_are_identical_after_a_full_refresh(built, name):
    """Same data, same tables: detected_at and anomaly_id depend on the data, not on the run."""
    before, after = built.incremental[name], built.full[name]
    assert len(before) == len(after)
    differences = [(list(old.values())[:2], column, old[column], new[column])
                   for old, new in zip(before, after, strict=False) for column in old if old[column] != new[column]]
    assert not differences, differences[:10]


@pytest.mark.parametrize("table", list(CONTRACT))
def test_every_delivered_record_is_current_superseded_or_rejected(built, table):
    distinct_records = {tuple(row[c] for c in CONTRACT[table]) for row in built.raw[table]}
    stg = _rows(built.cur, f"select sum(version_count) as valid, count(*) as ids "
                           f"from {built.catalog}.staging{SUFFIX}.stg_{table}")[0]
    rejected = _rows(built.cur, f"select * from {built.catalog}.staging{SUFFIX}.stg_{table}_rejected")
    assert stg["valid"] + len(rejected) == len(distinct_records)
    assert stg["ids"] == len(built.ref[f"current_{table}"])

    id_column = CONTRACT[table][0]
    expected = {(r["id"], r["rule"], r["column"], r["_source_file"], r["_source_row"])
                for r in rejected_records(built.ref[table]).values()}
    actual = {(r[id_column], r["rejection_rule"], r["rejected_column"], r["_source_file"], r["_source_row"])
              for r in rejected}
    assert actual == expected


def test_rows_breaking_each_rule_are_rejected_with_that_rule(built):
    rejected = _rows(built.cur, f"select transaction_id, rejection_rule from "
                                f"{built.catalog}.staging{SUFFIX}.stg_transactions_rejected")
    rules = {row["rejection_rule"] for row in rejected}
    assert rules == {"missing_id", "bad_timestamp", "implausible_timestamp", "unparseable_number", "out_of_range",
                     "unknown_enum", "unknown_currency", "nonpositive_quantity_price", "amount_mismatch",
                     "nonpositive_amount", "orphan_reference"}
    rejected_ids = {row["transaction_id"] for row in rejected}
    assert {"R014", "R018", "R019"}.isdisjoint(rejected_ids), \
        "a negative commission, an amount within 0.01 and a fee without an asset are valid"


def test_latest_version_wins_and_late_older_versions_do_not(built):
    fact = {row["transaction_id"]: row for row in built.full["fact_transactions"]}
    ref = built.ref["current_transactions"]
    for txn_id, row in fact.items():
        assert (row["status"], row["updated_at"]) == (ref[txn_id]["status"], ref[txn_id]["updated_at"]), txn_id
    assert sum(row["status"] == "cancelled" and row["_source_file"].endswith("transactions_late_001.csv")
               for row in fact.values()) == 1
    assert fact["R020"]["status"] == "settled", "a newer broken version must not replace the valid one"
    assert fact["X801"]["asset_symbol"] == "TSLA", "a trade in a late asset becomes valid when it arrives"
    assert any(row["client_id"] == "C021" for row in fact.values()), "trades of a late client become valid"
    assert {row["client_segment"] for row in fact.values() if row["client_id"] == "C005"} == {"institutional"}


def _close(actual, expected) -> bool:
    if actual is None or expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None and (expected is None or math.isnan(expected))
    if isinstance(expected, float):
        return math.isclose(float(actual), expected, rel_tol=1e-9, abs_tol=1e-6)
    return actual == expected


def _compare(actual_rows: list[dict], expected_frame, keys: list[str]) -> None:
    expected_rows = expected_frame.astype(object).where(expected_frame.notna(), None).to_dict("records")
    assert len(actual_rows) == len(expected_rows)
    expected_by_key = {tuple(row[k] for k in keys): row for row in expected_rows}
    for row in actual_rows:
        key = tuple(row[k] for k in keys)
        assert key in expected_by_key, key
        for column, expected in expected_by_key[key].items():
            assert _close(row[column], expected), (key, column, row[column], expected)


def test_client_investment_summary_matches_an_independent_recomputation(built):
    _compare(built.full["client_investment_summary"], expected_client_investment_summary(built.ref),
             ["client_id", "currency"])


def test_asset_performance_analysis_matches_an_independent_recomputation(built):
    _compare(built.full["asset_performance_analysis"], expected_asset_performance_analysis(built.ref),
             ["asset_id", "trade_date"])


def test_injected_anomalies_are_detected(built):
    found = {(row["transaction_id"], row["rule"]) for row in built.full["transaction_anomaly_detection"]}
    for rule, transaction_ids in built.expected_anomalies.items():
        for transaction_id in transaction_ids:
            assert (transaction_id, rule) in found


def test_docs_generate(built):
    result = run_dbt("docs", "generate", dbt_vars=DBT_VARS, target_path=built.target)
    _dbt_ok(result, "dbt docs generate")
    catalog = json.loads((built.target / "target" / "catalog.json").read_text())
    assert any(key.endswith(".fact_transactions") for key in catalog["nodes"])
