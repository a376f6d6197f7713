"""The landing contract (include/contract.yml) as frozen, typed objects: sources, columns, enums, null tokens,
boolean spellings and reason codes. Every Python reader of a delivery takes them from here, and dbt from the
macro `python -m include.contract --write-dbt` generates, so the contract exists once.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

CONTRACT_FILE = Path(__file__).with_name("contract.yml")
DBT_MACRO_FILE = Path(__file__).resolve().parents[1] / "dbt" / "lakehouse" / "macros" / "generated" / "contract.sql"
TYPES = ("string", "code", "enum", "boolean", "integer", "decimal", "timestamp", "date")
REASON_LEVELS = ("key", "file", "reported", "row")
TOP_LEVEL = ("sources", "enums", "null_tokens", "booleans", "formats", "meta_columns", "reasons")


class ContractError(ValueError):
    """include/contract.yml is malformed or inconsistent; the message names the entry."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    standard: str | None = None  # the code list of a `code` column (ISO 4217, ...)


@dataclass(frozen=True)
class Source:
    name: str
    key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def of_type(self, *types: str) -> tuple[str, ...]:
        """Names of the columns of these types, in delivery order."""
        return tuple(c.name for c in self.columns if c.type in types)


@dataclass(frozen=True)
class Contract:
    sources: Mapping[str, Source]
    enums: Mapping[str, tuple[str, ...]]
    null_tokens: tuple[str, ...]
    true_spellings: tuple[str, ...]
    false_spellings: tuple[str, ...]
    formats: Mapping[str, str]
    meta_columns: tuple[str, ...]
    reasons: Mapping[str, Mapping[str, str]]  # level (REASON_LEVELS) -> code -> meaning, in precedence order

    @property
    def columns(self) -> dict[str, tuple[str, ...]]:
        return {name: source.column_names for name, source in self.sources.items()}

    @property
    def key_columns(self) -> dict[str, str]:
        return {name: source.key for name, source in self.sources.items()}

    def clean_text(self, value: str | None) -> str | None:
        """Trimmed; a null token in any case is null (dbt's clean_text macro does the same in SQL)."""
        if value is None:
            return None
        text = value.strip()
        return None if text.upper() in _upper(self.null_tokens) else text

    def parse_boolean(self, text: str | None) -> bool | None:
        """A boolean spelling in any case, else None (dbt's parse_boolean macro). Takes clean text."""
        if text is None:
            return None
        lowered = text.lower()
        if lowered in self.true_spellings:
            return True
        return False if lowered in self.false_spellings else None

    def for_dbt(self) -> dict[str, Any]:
        """What dbt needs, as plain lists and dicts (the generated macro's return value)."""
        return {
            "sources": {name: {"key": s.key, "columns": list(s.column_names),
                               "types": {c.name: c.type for c in s.columns}} for name, s in self.sources.items()},
            "enums": {name: list(values) for name, values in self.enums.items()},
            "null_tokens": list(self.null_tokens),
            "booleans": {"true": list(self.true_spellings), "false": list(self.false_spellings)},
            "row_reasons": list(self.reasons["row"]),
        }


@cache
def _upper(tokens: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.upper() for t in tokens)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    _require(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{what}: a list of strings")
    _require(len(set(value)) == len(value), f"{what}: repeated value")
    return tuple(value)


def _source(name: str, spec: Any, enums: Mapping[str, tuple[str, ...]]) -> Source:
    _require(isinstance(spec, dict) and isinstance(spec.get("columns"), list), f"sources.{name}: needs columns")
    columns = []
    for entry in spec["columns"]:
        _require(isinstance(entry, dict) and set(entry) <= {"name", "type", "required", "standard"},
                 f"sources.{name}: a column is name, type, required and standard only")
        column = Column(entry.get("name"), entry.get("type"), bool(entry.get("required", False)),
                        entry.get("standard"))
        where = f"sources.{name}.{column.name}"
        _require(isinstance(column.name, str) and column.name.isidentifier(), f"{where}: not a column name")
        _require(column.type in TYPES, f"{where}: type must be one of {', '.join(TYPES)}")
        _require(column.type != "enum" or column.name in enums, f"{where}: no enums.{column.name}")
        _require((column.type == "code") == bool(column.standard), f"{where}: `standard` goes with type code")
        columns.append(column)
    source = Source(name, spec.get("key"), tuple(columns))
    _require(len(set(source.column_names)) == len(columns), f"sources.{name}: repeated column")
    _require(source.key in source.column_names, f"sources.{name}: key {source.key!r} is not a column")
    return source


def _reasons(raw: Any) -> Mapping[str, Mapping[str, str]]:
    _require(isinstance(raw, dict) and set(raw) == set(REASON_LEVELS), f"reasons: levels {', '.join(REASON_LEVELS)}")
    seen: set[str] = set()
    out = {}
    for level in REASON_LEVELS:
        codes = raw[level]
        _require(isinstance(codes, dict) and all(isinstance(v, str) for v in codes.values()),
                 f"reasons.{level}: code: meaning")
        _require(not seen & set(codes), f"reasons.{level}: a code is used at two levels")
        seen |= set(codes)
        out[level] = MappingProxyType(dict(codes))
    return MappingProxyType(out)


def parse_contract(raw: Any) -> Contract:
    """The contract from the YAML document's data, validated; ContractError names what is wrong."""
    _require(isinstance(raw, dict) and raw.get("version") == 1, "contract: version 1 expected")
    missing = set(TOP_LEVEL) - set(raw)
    _require(not missing, f"contract: missing {', '.join(sorted(missing))}")
    enums = {name: _strings(values, f"enums.{name}") for name, values in raw["enums"].items()}
    for name, values in enums.items():
        _require(all(v == v.lower() and v == v.strip() for v in values), f"enums.{name}: values are lower-case")
    sources = {name: _source(name, spec, enums) for name, spec in raw["sources"].items()}
    booleans = raw["booleans"]
    _require(isinstance(booleans, dict) and set(booleans) == {"true", "false"}, "booleans: true and false lists")
    true, false = _strings(booleans["true"], "booleans.true"), _strings(booleans["false"], "booleans.false")
    _require(not set(true) & set(false), "booleans: a spelling is both true and false")
    _require(all(v == v.lower() for v in true + false), "booleans: spellings are lower-case")
    return Contract(
        sources=MappingProxyType(sources),
        enums=MappingProxyType(enums),
        null_tokens=_strings(raw["null_tokens"], "null_tokens"),
        true_spellings=true,
        false_spellings=false,
        formats=MappingProxyType(dict(raw["formats"])),
        meta_columns=_strings(raw["meta_columns"], "meta_columns"),
        reasons=_reasons(raw["reasons"]),
    )


def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    import yaml  # PyYAML: a dependency of apache-airflow-core and dbt-core, so in the image

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: the DAG parse reads this
    return parse_contract(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))  # noqa: S506 - a safe loader


@cache
def contract() -> Contract:
    """The repository's contract, read once per process."""
    return load_contract()


def dbt_macro(c: Contract) -> str:
    """The dbt macro file generated from the contract."""
    body = json.dumps(c.for_dbt(), indent=4).replace("\n", "\n    ")
    return (
        "{#-\n"
        "    GENERATED from include/contract.yml by `python -m include.contract --write-dbt`: do not edit.\n"
        "    The landing contract as a dict; the macros in ../lakehouse_contract.sql read it.\n"
        "-#}\n"
        "{% macro lakehouse_contract() -%}\n"
        f"    {{{{ return({body}) }}}}\n"
        "{%- endmacro %}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.contract", description=__doc__)
    parser.add_argument("--write-dbt", action="store_true", help=f"write {DBT_MACRO_FILE.name} for dbt")
    parser.add_argument("--check", action="store_true", help="exit 1 if the generated dbt macro is stale")
    args = parser.parse_args(argv)
    text = dbt_macro(load_contract())
    if args.write_dbt:
        DBT_MACRO_FILE.parent.mkdir(parents=True, exist_ok=True)
        DBT_MACRO_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {DBT_MACRO_FILE}")
        return 0
    fresh = DBT_MACRO_FILE.exists() and DBT_MACRO_FILE.read_text(encoding="utf-8") == text
    print("dbt macro is fresh" if fresh else "stale: run python -m include.contract --write-dbt")
    return 0 if fresh else 1


if __name__ == "__main__":
    sys.exit(main())
