"""The generator's view of the landing contract (include/contract.yml): columns, keys, enumerations, and the
null and boolean spellings the generator writes and its audit reads back.
"""

from __future__ import annotations

from include.contract import contract

_CONTRACT = contract()
COLUMNS: dict[str, tuple[str, ...]] = _CONTRACT.columns
KEY_COLUMN: dict[str, str] = _CONTRACT.key_columns
ENUMS: dict[str, tuple[str, ...]] = dict(_CONTRACT.enums)

# Which enumerations each source carries, which columns hold codes that are upper-case once clean, and which
# hold timestamps.
ENUM_COLUMNS = {name: source.of_type("enum") for name, source in _CONTRACT.sources.items()}
CODE_COLUMNS = {name: source.of_type("code") for name, source in _CONTRACT.sources.items()}
TIMESTAMP_COLUMNS = {name: source.of_type("timestamp") for name, source in _CONTRACT.sources.items()}

NULL_TOKENS = _CONTRACT.null_tokens
# The spellings of null a generated cell may carry ("" is just an empty field, not dirt).
NULL_TOKEN_SPELLINGS = tuple(t for t in NULL_TOKENS if t)
TRUE_SPELLINGS = _CONTRACT.true_spellings
FALSE_SPELLINGS = _CONTRACT.false_spellings
clean_text = _CONTRACT.clean_text
parse_boolean = _CONTRACT.parse_boolean
