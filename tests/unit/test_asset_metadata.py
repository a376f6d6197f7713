"""The data-quality metadata of a model's Asset event: what dbt reported, a retry's own results winning."""

from __future__ import annotations

from types import SimpleNamespace

from airflow.sdk import Asset

from include.pipeline.asset_metadata import RESULTS_XCOM_KEY, ModelEventMetadata, rows_from_message

PRODUCER = "dbt.dbt_producer_watcher"
MODEL, TEST_A, TEST_B = "model.lakehouse.stg_x", "test.lakehouse.not_null_x", "test.lakehouse.unique_x"


class FakeTi:
    def __init__(self, xcoms: dict[tuple[str, str], object]):
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str, key: str):
        return self.xcoms.get((task_ids, key))


def _event(unique_id: str) -> str:
    return unique_id.replace(".", "__") + "_dbt_event"


def _metadata(materialized: str = "view") -> ModelEventMetadata:
    node = SimpleNamespace(unique_id=MODEL, config={"materialized": materialized})
    return ModelEventMetadata(Asset(name="staging.stg_x", uri="trino://h:1/iceberg/staging/stg_x"), node,
                              [TEST_A, TEST_B], PRODUCER, ["dbt.stg_x.run", "dbt.stg_x.test"])


def test_the_row_count_is_read_from_dbt_trinos_adapter_message():
    assert rows_from_message("CREATE TABLE (1_234 rows)") == 1234
    assert rows_from_message("MERGE (1 row)") == 1
    assert rows_from_message("CREATE VIEW") is None and rows_from_message(None) is None


def test_tests_and_rows_come_from_the_build_and_a_retrys_own_results_win():
    ti = FakeTi({
        (PRODUCER, _event(MODEL)): {"status": "success", "msg": "MERGE (40 rows)"},
        (PRODUCER, _event(TEST_A)): {"status": "pass", "msg": None},
        (PRODUCER, _event(TEST_B)): {"status": "fail", "msg": "Got 2 results"},
        # The test task retried and ran the model's tests alone: unique_x passes now.
        ("dbt.stg_x.test", RESULTS_XCOM_KEY): [{"unique_id": TEST_B, "status": "pass", "rows_affected": None},
                                               {"unique_id": "test.lakehouse.other", "status": "fail"}],
    })
    extra = _metadata().collect(ti)
    assert extra == {"materialized": "view", "tests_passed": 2, "tests_failed": 0, "rows_added_or_changed": 40}


def test_the_event_goes_out_without_metadata_when_it_cannot_be_read():
    class Broken(FakeTi):
        def xcom_pull(self, task_ids, key):
            raise ConnectionError("execution API unreachable")

    events = {}
    _metadata()({"ti": Broken({}), "outlet_events": events})
    assert events == {}
