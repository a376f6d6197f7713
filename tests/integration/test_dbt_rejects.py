"""No single row can fail the dbt build: for every test on the marts and analytics models, a raw row that would
break it is rejected in staging, with its reason code and column, and `dbt build` still passes.

One small delivery per source holds good rows and one violating row per rule and column; a single `dbt build`
runs on it beside the pipeline's tables (raw rows in `dbt_rejects_raw`, models in `*_dbt_rejects`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from include.settings import trino_connection
from tests.integration.dbt_helpers import LAYERS, Delivery, create_raw_tables, insert_delivery, run_dbt

pytestmark = pytest.mark.integration

RAW_SCHEMA = "dbt_rejects_raw"
SUFFIX = "_dbt_rejects"
DBT_VARS = {"raw_schema": RAW_SCHEMA, "schema_suffix": SUFFIX}
DT = "2024-01-15"
INGESTED_AT = datetime(2024, 1, 16, 6, tzinfo=timezone.utc)

ASSET = {"symbol": "AAA", "asset_name": "Asset", "asset_class": "equity", "sector": "Tech", "currency": "USD",
         "exchange": "XNAS", "isin": None, "risk_rating": "3", "is_active": "true",
         "updated_at": "2024-01-01T00:00:00Z"}
CLIENT = {"first_name": "Ada", "last_name": "L", "email": "a@example.com", "country_code": "gb",
          "date_of_birth": "1980-05-01", "segment": "retail", "risk_profile": "moderate", "kyc_status": "verified",
          "onboarded_at": "2020-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
TRADE = {"client_id": "C1", "asset_id": "A1", "transaction_type": "buy", "quantity": "10", "price": "100",
         "amount": "1000.00", "fee": "1.00", "currency": "USD", "executed_at": f"{DT}T10:00:00Z", "channel": "web",
         "status": "settled", "updated_at": f"{DT}T10:30:00Z"}

GOOD = {
    "assets": {"A1": {}, "A2": {"asset_class": "Bond", "currency": "eur"}},
    "clients": {"C1": {}, "C2": {"segment": "Institutional"}},
    "transactions": {
        "G1": {},
        "G2": {"transaction_type": "sell", "quantity": "4", "price": "110", "amount": "440", "fee": "N/A"},
        "G3": {"client_id": "C2", "asset_id": "A2", "transaction_type": "dividend", "quantity": None,
               "price": None, "amount": "5", "currency": " eur "},
        "G4": {"client_id": "C2", "asset_id": "", "transaction_type": "fee", "quantity": "", "price": "",
               "amount": "2.50", "fee": None},
        # Within the bounds: 29 days before dt (a late settlement), the day's end plus 13 hours (UTC-12),
        # 11 integer digits, trailing zeros past the scale.
        "G5": {"executed_at": "2023-12-17T10:00:00Z"},
        "G6": {"executed_at": "2024-01-16T12:59:59-00:00"},
        "G7": {"quantity": "99999999999", "price": "0.01", "amount": "999999999.99"},
        "G8": {"price": "100.0000000000", "fee": "-1.00"},
    },
}

# case: (source, key, overrides, expected rule, expected column, the marts/analytics tests the row would break)
CASES = {
    "asset_without_id": ("assets", "", {}, "missing_id", "asset_id", "dim_assets.asset_id unique, not_null"),
    "asset_class_unknown": ("assets", "A90", {"asset_class": "reit"}, "unknown_enum", "asset_class",
                            "dim_assets/fact/analytics asset_class accepted_values"),
    "asset_active_unknown": ("assets", "A91", {"is_active": "maybe"}, "unknown_enum", "is_active",
                             "dim_assets.is_active not_null"),
    "asset_rating_overflow": ("assets", "A92", {"risk_rating": "99999999999"}, "out_of_range", "risk_rating",
                              "dim_assets contract: risk_rating integer"),
    "asset_updated_unreadable": ("assets", "A93", {"updated_at": "soon"}, "bad_timestamp", "updated_at",
                                 "stg_assets.updated_at not_null"),
    "client_without_id": ("clients", " NULL ", {}, "missing_id", "client_id", "dim_clients.client_id unique, not_null"),
    "client_segment_unknown": ("clients", "C90", {"segment": "vip"}, "unknown_enum", "segment",
                               "dim_clients.segment accepted_values"),
    "client_profile_unknown": ("clients", "C91", {"risk_profile": "yolo"}, "unknown_enum", "risk_profile",
                               "dim_clients.risk_profile accepted_values"),
    "client_kyc_unknown": ("clients", "C92", {"kyc_status": "in_review"}, "unknown_enum", "kyc_status",
                           "dim_clients.kyc_status accepted_values"),
    "client_birth_unreadable": ("clients", "C93", {"date_of_birth": "1985-02-30"}, "bad_timestamp", "date_of_birth",
                                "dim_clients.age_band accepted_values, contract: age bigint"),
    "client_onboarded_unreadable": ("clients", "C94", {"onboarded_at": "last tuesday"}, "bad_timestamp",
                                    "onboarded_at", "dim_clients contract: tenure_days"),
    "txn_without_id": ("transactions", "n/a", {}, "missing_id", "transaction_id",
                       "fact_transactions.transaction_id unique, not_null"),
    "txn_client_null": ("transactions", "T01", {"client_id": "NULL"}, "orphan_reference", "client_id",
                        "fact_transactions.client_id not_null"),
    "txn_client_unknown": ("transactions", "T02", {"client_id": "C404"}, "orphan_reference", "client_id",
                           "fact/client_investment_summary client_id relationships"),
    "txn_asset_unknown": ("transactions", "T03", {"asset_id": "A404"}, "orphan_reference", "asset_id",
                          "fact/asset_performance_analysis asset_id relationships"),
    "txn_asset_rejected": ("transactions", "T04", {"asset_id": "A90"}, "orphan_reference", "asset_id",
                           "fact_transactions.asset_class accepted_values"),
    "txn_buy_without_asset": ("transactions", "T05", {"asset_id": " "}, "orphan_reference", "asset_id",
                              "fact_transactions.asset_id relationships"),
    "txn_type_unknown": ("transactions", "T06", {"transaction_type": "swap"}, "unknown_enum", "transaction_type",
                         "fact_transactions.transaction_type accepted_values"),
    "txn_type_null": ("transactions", "T07", {"transaction_type": "Null"}, "unknown_enum", "transaction_type",
                      "fact_transactions.transaction_type not_null, cash_flow not_null"),
    "txn_status_unknown": ("transactions", "T08", {"status": "reversed"}, "unknown_enum", "status",
                           "fact_transactions.status not_null, accepted_values"),
    "txn_channel_unknown": ("transactions", "T09", {"channel": "fax"}, "unknown_enum", "channel",
                            "fact_transactions.channel accepted_values"),
    "txn_currency_null_token": ("transactions", "T10", {"currency": " n/a "}, "unknown_currency", "currency",
                                "fact_transactions.currency not_null"),
    "txn_currency_null_upper": ("transactions", "T11", {"currency": "NULL"}, "unknown_currency", "currency",
                                "fact_transactions.currency not_null"),
    "txn_currency_missing": ("transactions", "T12", {"currency": None}, "unknown_currency", "currency",
                             "fact_transactions.currency not_null"),
    "txn_currency_not_iso": ("transactions", "T13", {"currency": "XYZ"}, "unknown_currency", "currency",
                             "stg_transactions.currency relationships to the ISO 4217 seed"),
    "txn_executed_unreadable": ("transactions", "T14", {"executed_at": "yesterday"}, "bad_timestamp", "executed_at",
                                "fact_transactions.executed_at not_null, asset_performance trade_date not_null"),
    "txn_updated_missing": ("transactions", "T15", {"updated_at": ""}, "bad_timestamp", "updated_at",
                            "stg_transactions version order"),
    "txn_executed_year_2999": ("transactions", "T16", {"executed_at": "2999-01-15T10:00:00Z"},
                               "implausible_timestamp", "executed_at", "fact_transactions.executed_at plausible"),
    "txn_executed_after_skew": ("transactions", "T17", {"executed_at": "2024-01-16T14:00:00Z"},
                                "implausible_timestamp", "executed_at", "fact_transactions.executed_at plausible"),
    "txn_executed_long_before_dt": ("transactions", "T18", {"executed_at": "1970-01-01T00:00:00Z"},
                                    "implausible_timestamp", "executed_at", "fact_transactions.executed_at plausible"),
    "txn_quantity_negative": ("transactions", "T19", {"quantity": "-10", "amount": "-1000"},
                              "nonpositive_quantity_price", "quantity", "fact_transactions.quantity positive"),
    "txn_price_zero": ("transactions", "T20", {"price": "0", "amount": "0"}, "nonpositive_quantity_price", "price",
                       "fact_transactions.price positive"),
    "txn_amount_missing": ("transactions", "T21", {"amount": "NULL"}, "amount_mismatch", "amount",
                           "fact_transactions.amount not_null, positive"),
    "txn_amount_mismatch": ("transactions", "T22", {"amount": "999"}, "amount_mismatch", "amount",
                            "fact_transactions amount = quantity x price"),
    "txn_dividend_amount_missing": ("transactions", "T23", {"transaction_type": "dividend", "amount": ""},
                                    "nonpositive_amount", "amount", "fact_transactions.amount not_null"),
    "txn_quantity_unparseable": ("transactions", "T24", {"quantity": "1e1"}, "unparseable_number", "quantity",
                                 "fact_transactions.quantity positive"),
    "txn_fee_unparseable": ("transactions", "T25", {"fee": "abc"}, "unparseable_number", "fee",
                            "fact_transactions.fee not_null"),
    "txn_product_overflow": ("transactions", "T26", {"quantity": "1000000000000", "price": "1000000000000",
                                                     "amount": "1000000000000000000000000"},
                             "out_of_range", "quantity", "the staging amount check itself (decimal overflow)"),
    "txn_price_past_scale": ("transactions", "T27", {"price": "100.000000001"}, "out_of_range", "price",
                             "fact_transactions contract: price decimal(28,8)"),
    "txn_amount_too_wide": ("transactions", "T28", {"amount": "123456789012345678901234567890"}, "out_of_range",
                            "amount", "fact_transactions contract: amount decimal(28,8)"),
    "txn_fee_overflows_cash_flow": ("transactions", "T29", {"fee": "99999999999999999999"}, "out_of_range", "fee",
                                    "fact_transactions.cash_flow not_null (decimal(28,8) cast overflow)"),
}
TEMPLATES = {"assets": ("asset_id", ASSET), "clients": ("client_id", CLIENT), "transactions": ("transaction_id", TRADE)}


def _deliveries() -> tuple[dict[str, Delivery], dict[str, tuple[str, int]]]:
    """One file per source under dt=DT; returns them and where each case's row landed (file, row)."""
    files = {source: Delivery(source, f"dt={DT}/{source}.csv", INGESTED_AT) for source in TEMPLATES}
    where = {}
    for source, (key, template) in TEMPLATES.items():
        for key_value, overrides in GOOD[source].items():
            files[source].rows.append({**template, key: key_value, **overrides})
    for case, (source, key_value, overrides, _, _, _) in CASES.items():
        key, template = TEMPLATES[source]
        files[source].rows.append({**template, key: key_value, **overrides})
        where[case] = (files[source].source_file, len(files[source].rows))
    return files, where


def _rows(cur, sql: str, params=None) -> list[dict]:
    cur.execute(sql, params) if params else cur.execute(sql)
    rows = cur.fetchall()
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=False)) for row in rows]


@pytest.fixture(scope="module")
def built(settings, tmp_path_factory):
    """Load the fixture rows into an isolated raw schema and run one `dbt build` (unit tests excluded)."""
    catalog = settings.trino_catalog
    target = tmp_path_factory.mktemp("dbt_rejects")
    conn = trino_connection(settings)
    cur = conn.cursor()
    for layer in LAYERS:
        _rows(cur, f"drop schema if exists {catalog}.{layer}{SUFFIX} cascade")
    create_raw_tables(cur, catalog, RAW_SCHEMA)
    files, where = _deliveries()
    for delivery in files.values():
        insert_delivery(cur, catalog, RAW_SCHEMA, delivery, "rejects-batch")
    # More threads than the profile's 2: the queries are tiny, so Trino overlaps them well.
    result = run_dbt("build", "--exclude", "test_type:unit", "--threads", "4", dbt_vars=DBT_VARS, target_path=target)
    run_results = json.loads((target / "target" / "run_results.json").read_text())
    manifest = json.loads((target / "target" / "manifest.json").read_text())
    yield SimpleNamespace(cur=cur, catalog=catalog, result=result, run_results=run_results, manifest=manifest,
                          where=where)
    conn.close()


def _marts_and_analytics_tests(manifest: dict) -> set[str]:
    """Every data test attached to a marts or analytics model."""
    layer_of = {uid: node["fqn"][1] for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    return {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"
            and any(layer_of.get(parent) in ("marts", "analytics") for parent in node["depends_on"]["nodes"])}


def test_dbt_build_passes_every_test_with_the_violating_rows_loaded(built):
    assert built.result.returncode == 0, built.result.stdout[-6000:]
    status = {r["unique_id"]: r["status"] for r in built.run_results["results"]}
    guarded = _marts_and_analytics_tests(built.manifest)
    assert len(guarded) > 50
    assert {uid: status.get(uid) for uid in guarded if status.get(uid) != "pass"} == {}
    assert {s for uid, s in status.items() if uid.startswith("test.")} == {"pass"}
    assert {s for uid, s in status.items() if uid.startswith(("model.", "seed."))} == {"success"}


@pytest.mark.parametrize("case", list(CASES))
def test_violating_row_is_rejected_with_its_rule_and_column(built, case):
    source, _, _, rule, column, _ = CASES[case]
    source_file, source_row = built.where[case]
    rejected = _rows(built.cur, f"select rejection_rule, rejected_column, broken_rules "
                                f"from {built.catalog}.staging{SUFFIX}.stg_{source}_rejected "
                                "where _source_file = ? and _source_row = ?", [source_file, source_row])
    assert [(r["rejection_rule"], r["rejected_column"]) for r in rejected] == [(rule, column)], rejected


def test_only_the_good_rows_reach_the_marts(built):
    fact = _rows(built.cur, f"select transaction_id, currency from {built.catalog}.marts{SUFFIX}.fact_transactions")
    assert sorted(r["transaction_id"] for r in fact) == sorted(GOOD["transactions"])
    assert {r["currency"] for r in fact} == {"USD", "EUR"}
    for source, key in (("assets", "asset_id"), ("clients", "client_id")):
        dim = _rows(built.cur, f"select {key} from {built.catalog}.marts{SUFFIX}.dim_{source}")
        assert sorted(r[key] for r in dim) == sorted(GOOD[source])


def test_a_scratch_table_left_by_an_interrupted_run_does_not_fail_the_next_one(built, tmp_path):
    """Trino stopped mid-build leaves a unit test's `__dbt_tmp` table behind; the retry must still pass."""
    unit_test = "latest_valid_keeps_the_latest_version_then_the_latest_delivery"
    leftover = f"{built.catalog}.intermediate{SUFFIX}.{unit_test}__dbt_tmp"
    _rows(built.cur, f"create table if not exists {leftover} (x integer)")
    result = run_dbt("test", "--select", f"unit_test:{unit_test}", dbt_vars=DBT_VARS, target_path=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "1 of 1 PASS" in result.stdout or "PASS=1" in result.stdout, result.stdout[-2000:]
