"""Landing keys: what is a delivery, and the reason code for every key that is not."""

from __future__ import annotations

import pytest

from include.ingestion.contract import KEY_REASONS, LayoutError, parse_key
from tests.unit.bad_input_corpus import BAD_KEYS


def test_a_key_in_the_layout_names_source_day_and_format():
    key = parse_key("transactions/dt=2026-11-20/part-1.CSV.GZ")
    assert (key.source, key.dt, key.name, key.fmt) == ("transactions", "2026-11-20", "part-1.CSV.GZ", "csv.gz")
    assert parse_key("assets/dt=2024-02-29/a.parquet").fmt == "parquet"


@pytest.mark.parametrize(("key", "code"), BAD_KEYS)
def test_a_key_outside_the_layout_is_turned_away_with_its_code(key, code):
    with pytest.raises(LayoutError) as error:
        parse_key(key)
    assert error.value.code == code, error.value
    assert str(error.value).startswith(f"{code}: ")


def test_the_corpus_covers_every_key_reason_code():
    assert {code for _, code in BAD_KEYS} == set(KEY_REASONS)
