"""docs/landing-contract.md says what include/contract.yml says: the columns of each source with their types, keys,
required flags and enumerations, the null and boolean spellings, and every file, key and row reason code.
"""

from __future__ import annotations

import re

import pytest

from include.contract import Column, contract
from include.ingestion.loader import FOLDER_MARKER, UNREADABLE
from include.settings import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "landing-contract.md").read_text()
TICKED = re.compile(r"`([^`]*)`")


def section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def table_codes(text: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)


def column_rows(source: str) -> list[tuple[str, str, str]]:
    """(column, type cell, notes cell) per column of the source's table, a row naming several expanded."""
    table = section("Columns").split(f"**{source}**", 1)[1].split("\n\n**", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows += [(name, cells[1], cells[2]) for name in TICKED.findall(cells[0])]
    return rows


def type_word(column: Column) -> str:
    """How the doc's type cell starts: the type, or for a code column its standard (ISO 4217 ...)."""
    return column.standard if column.type == "code" else column.type


def test_every_file_and_key_reason_code_is_documented_and_nothing_else():
    reasons = contract().reasons
    documented = set(table_codes(section("File-level rejects"))) - {"reason"}
    assert documented == set(reasons["key"]) | set(reasons["file"]) | set(reasons["reported"])
    assert {FOLDER_MARKER, UNREADABLE} <= documented


def test_row_reasons_are_documented_in_precedence_order():
    assert table_codes(section("Cleaning")) == list(contract().reasons["row"])


@pytest.mark.parametrize("source", sorted(contract().sources))
def test_each_source_table_lists_the_contract_columns_in_order_with_their_types(source):
    spec = contract().sources[source]
    rows = column_rows(source)
    assert [name for name, _, _ in rows] == list(spec.column_names)
    for column, (name, type_cell, notes) in zip(spec.columns, rows, strict=True):
        assert type_cell.startswith(type_word(column)), name
        assert ("key" in type_cell.split(", ")) == (name == spec.key), name
        assert (notes.split(";")[0] == "required") == column.required, name
        if column.type == "enum":
            assert set(TICKED.findall(notes)) == set(contract().enums[name]), name


def test_null_tokens_and_boolean_spellings_match_the_contract():
    steps = section("Cleaning")
    nulls = next(line for line in steps.splitlines() if line.startswith("1. "))
    assert [t.strip('"') for t in TICKED.findall(nulls)] == list(contract().null_tokens)
    booleans = next(line for line in steps.splitlines() if line.startswith("3. "))
    true_part, false_part = booleans.split("→ true", 1)
    assert TICKED.findall(true_part) == list(contract().true_spellings)
    assert TICKED.findall(false_part) == list(contract().false_spellings)


def test_formats_and_load_metadata_columns_match_the_contract():
    formats = re.findall(r"^\| [^|]*\(`(\.[a-z.]+)`\) \|", section("Formats"), flags=re.MULTILINE)
    assert formats == list(contract().formats)
    metadata = re.findall(r"^\| `(_[a-z_]+)` \|", section("Raw layer"), flags=re.MULTILINE)
    assert metadata == list(contract().meta_columns)
