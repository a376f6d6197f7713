"""include/contract.yml is the one landing contract: dbt's generated copy is fresh, a broken contract is refused,
and every Python reader cleans null tokens and booleans the same way (any case, after trimming), as dbt does.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from jinja2 import Environment

from devtools.datagen import audit
from devtools.datagen.contract import NULL_TOKEN_SPELLINGS
from devtools.datagen.dirty import FALSE_VARIANTS, TRUE_VARIANTS
from include import contract as contract_module
from include.contract import CONTRACT_FILE, DBT_MACRO_FILE, ContractError, contract, dbt_macro, parse_contract
from include.ingestion.loader import FOLDER_MARKER, UNREADABLE
from tests.integration import dbt_helpers


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(CONTRACT_FILE.read_text())


def test_committed_dbt_macro_is_generated_from_the_contract():
    assert DBT_MACRO_FILE.read_text() == dbt_macro(contract()), "run: python -m include.contract --write-dbt"


def test_check_command_fails_on_a_stale_dbt_macro(tmp_path, monkeypatch):
    stale = tmp_path / "contract.sql"
    stale.write_text(DBT_MACRO_FILE.read_text().replace('"N/A"', '"NA"'))
    monkeypatch.setattr(contract_module, "DBT_MACRO_FILE", stale)
    assert contract_module.main(["--check"]) == 1
    assert contract_module.main(["--write-dbt"]) == 0
    assert contract_module.main(["--check"]) == 0


class _Returned(Exception):
    def __init__(self, value):
        self.value = value


def _dbt_return(value):
    raise _Returned(value)  # dbt's `return()` ends the macro with a value the same way


def test_generated_macro_returns_the_contract_to_dbt():
    env = Environment()
    env.globals["return"] = _dbt_return
    module = env.from_string(DBT_MACRO_FILE.read_text()).module
    with pytest.raises(_Returned) as returned:
        module.lakehouse_contract()
    assert returned.value.value == contract().for_dbt()
    assert returned.value.value["null_tokens"] == ["", "NULL", "N/A"]


def _broken(raw: dict, path: str, value) -> dict:
    broken = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = broken
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return broken


@pytest.mark.parametrize(("path", "value", "message"), [
    ("sources.assets.key", "asset_code", "sources.assets: key 'asset_code' is not a column"),
    ("sources.assets.columns.3.type", "enumeration", "sources.assets.asset_class: type must be one of"),
    ("sources.clients.columns.6.name", "tier", "sources.clients.tier: no enums.tier"),
    ("sources.transactions.columns.8", {"name": "currency", "type": "code"}, "`standard` goes with type code"),
    ("enums.status", ["pending", "Settled"], "enums.status: values are lower-case"),
    ("booleans.false", ["false", "no", "y"], "booleans: a spelling is both true and false"),
    ("reasons.row.bad_header", "clashes with the file reason", "reasons.row: a code is used at two levels"),
    ("null_tokens", ["", "NULL", "NULL"], "null_tokens: repeated value"),
])
def test_a_broken_contract_is_refused_naming_the_entry(raw, path, value, message):
    with pytest.raises(ContractError, match=re.escape(message)):
        parse_contract(_broken(raw, path, value))


def test_the_repository_contract_is_valid_and_knows_every_loader_reason(raw):
    c = parse_contract(raw)
    assert c == contract()
    assert FOLDER_MARKER in c.reasons["reported"] and UNREADABLE in c.reasons["file"]


NULL_SPELLINGS = ["", "  ", "NULL", "null", " Null ", "N/A", "n/a", "\tN/a "]


@pytest.mark.parametrize("spelling", NULL_SPELLINGS)
def test_null_tokens_match_in_any_case_after_trimming_in_every_reader(spelling):
    # The generator's audit once matched them case-sensitively; now all readers share the contract's rule.
    assert contract().clean_text(spelling) is None
    assert audit.clean(spelling) is None
    assert dbt_helpers.clean_text(spelling) is None


@pytest.mark.parametrize("value", ["NULLS", "N/A/B", "none", "-", "0"])
def test_values_that_only_resemble_a_null_token_are_kept_trimmed(value):
    assert audit.clean(f" {value} ") == dbt_helpers.clean_text(f" {value} ") == value


def test_boolean_spellings_match_in_any_case_in_every_reader():
    c = contract()
    for spellings, expected in ((c.true_spellings, True), (c.false_spellings, False)):
        for spelling in spellings:
            for variant in (spelling, spelling.upper(), spelling.title()):
                assert c.parse_boolean(variant) is expected
                assert dbt_helpers.parse_boolean(variant) is expected
    assert c.parse_boolean("maybe") is None and c.parse_boolean("2") is None


def test_the_dirt_the_generator_writes_is_spelled_as_the_contract_allows():
    assert all(contract().parse_boolean(v) is True for v in TRUE_VARIANTS)
    assert all(contract().parse_boolean(v) is False for v in FALSE_VARIANTS)
    assert NULL_TOKEN_SPELLINGS and all(contract().clean_text(v) is None for v in NULL_TOKEN_SPELLINGS)
