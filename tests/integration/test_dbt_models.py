"""The dbt project on the real local stack: hand-made dirty deliveries arrive in three batches, dbt runs
incrementally after each, and the results are checked against a full refresh of the same data and against an
independent pandas recomputation of the cleaning rules and the analytics.

Everything is built beside the pipeline's own tables: raw rows in `dbt_it_raw`, the incremental build in
`<layer>_dbt_it` (staging, intermediate, marts, analytics), the full refresh in `<layer>_dbt_it_full`.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from include.settings import trino_connection
from tests.integration.dbt_helpers import (
    CONTRACT,
    LAYERS,
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
FULL_SUFFIX = "_dbt_it_full"
# No lookback: every incremental run reads only what is new, so the merge logic is what gets tested.
DBT_VARS = {"raw_schema": RAW_SCHEMA, "schema_suffix": SUFFIX, "fact_lookback_hours": 0}
FULL_VARS = {**DBT_VARS, "schema_suffix": FULL_SUFFIX}
ANALYTICS = ("client_investment_summary", "asset_performance_analysis", "transaction_anomaly_detection")


def _rows(cur, sql: str) -> list[dict]:
    cur.execute(sql)
    rows = cur.fetchall()
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=False)) for row in rows]


def _table(cur, catalog: str, schema: str, name: str, order_by: str) -> list[dict]:
    return _rows(cur, f"select * from {catalog}.{schema}{FULL_SUFFIX}.{name} order by {order_by}")


def _dbt_ok(result, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@pytest.fixture(scope="module")
def built(settings, tmp_path_factory):
    """Load the three batches, running dbt after each; then build the same data with a full refresh beside it."""
    catalog = settings.trino_catalog
    target = tmp_path_factory.mktemp("dbt")
    conn = trino_connection(settings)
    cur = conn.cursor()
    for layer in LAYERS:
        for suffix in (SUFFIX, FULL_SUFFIX):
            _rows(cur, f"drop schema if exists {catalog}.{layer}{suffix} cascade")
    create_raw_tables(cur, catalog, RAW_SCHEMA)

    batches, expected_anomalies = build_deliveries()
    commands = [
        # Unit tests run once, in the last build.
        ("build", "--exclude", "test_type:unit"),
        ("run",),
        ("build",),
    ]
    for number, (batch, command) in enumerate(zip(batches, commands, strict=False), start=1):
        for delivery in batch:
            insert_delivery(cur, catalog, RAW_SCHEMA, delivery, f"batch-{number}")
        _dbt_ok(run_dbt(*command, dbt_vars=DBT_VARS, target_path=target),
                f"dbt {' '.join(command)} after batch {number}")
    run_results = json.loads((target / "target" / "run_results.json").read_text())

    full_refresh = ("build", "--full-refresh", "--resource-type", "seed", "--resource-type", "model")
    _dbt_ok(run_dbt(*full_refresh, dbt_vars=FULL_VARS, target_path=target), "dbt build --full-refresh")
    manifest = json.loads((target / "target" / "manifest.json").read_text())
    full = {name: _table(cur, catalog, "analytics", name, "1, 2") for name in ANALYTICS}
    full["fact_transactions"] = _table(cur, catalog, "marts", "fact_transactions", "transaction_id")

    raw = {table: _rows(cur, f"select * from {catalog}.{RAW_SCHEMA}.{table}") for table in CONTRACT}
    yield SimpleNamespace(cur=cur, catalog=catalog, target=target, run_results=run_results, raw=raw,
                          ref=reference_tables(raw), full=full, manifest=manifest,
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


def test_every_table_built_incrementally_equals_a_full_refresh_of_the_same_data(built):
    """Day by day (late and older versions, a late client and asset among them) or all at once: the same rows.

    Every table and incremental model is compared both ways with EXCEPT, so a row missing on either side or
    differing in any column (detected_at and anomaly_id included) shows."""
    models = {node["name"]: (node["config"]["schema"], node["config"]["materialized"])
              for node in built.manifest["nodes"].values() if node["resource_type"] == "model"}
    compared = {name: layer for name, (layer, materialized) in models.items() if materialized != "view"}
    assert {"int_transactions__latest_valid", "fact_transactions"} <= {
        name for name, (_, materialized) in models.items() if materialized == "incremental"}
    differences = {}
    for name, layer in sorted(compared.items()):
        incremental = f"{built.catalog}.{layer}{SUFFIX}.{name}"
        full = f"{built.catalog}.{layer}{FULL_SUFFIX}.{name}"
        counts = _rows(built.cur, f"""
            select
                (select count(*) from (select * from {incremental} except select * from {full})) as only_incremental,
                (select count(*) from (select * from {full} except select * from {incremental})) as only_full,
                (select count(*) from {incremental}) - (select count(*) from {full}) as row_difference""")[0]
        if any(counts.values()):
            differences[name] = counts
    assert len(compared) >= 15
    assert differences == {}


def test_no_model_reads_a_later_layer(built):
    """base -> staging -> intermediate -> marts -> analytics, as dbt's structure guide layers a project: a base
    model reads only its source (and seeds), and no model reads from a layer after its own."""
    order = ["base", "staging", "intermediate", "marts", "analytics"]
    nodes = {uid: node for uid, node in built.manifest["nodes"].items() if node["resource_type"] == "model"}

    def layer(node: dict) -> int:
        folder = node["fqn"][1]
        return order.index("base" if folder == "staging" and node["fqn"][2] == "base" else folder)

    backward = [(node["name"], nodes[parent]["name"]) for node in nodes.values()
                for parent in node["depends_on"]["nodes"] if parent in nodes and layer(nodes[parent]) > layer(node)]
    assert backward == []
    base_inputs = {parent.split(".")[0] for node in nodes.values() if layer(node) == 0
                   for parent in node["depends_on"]["nodes"]}
    assert base_inputs == {"source", "seed"}
    assert {layer(node) for node in nodes.values()} == set(range(len(order)))


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
    assets = {row["asset_id"]: row for row in _rows(
        built.cur, f"select asset_id, symbol from {built.catalog}.marts{FULL_SUFFIX}.dim_assets")}
    assert assets[fact["X801"]["asset_id"]]["symbol"] == "TSLA", "a trade in a late asset becomes valid when it arrives"
    assert any(row["client_id"] == "C021" for row in fact.values()), "trades of a late client become valid"
    segment = _rows(built.cur, f"select segment from {built.catalog}.marts{FULL_SUFFIX}.dim_clients "
                               "where client_id = 'C005'")
    assert segment == [{"segment": "institutional"}], "the client's current version, through the dimension"


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
