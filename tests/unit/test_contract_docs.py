"""docs/landing-contract.md lists exactly the reason codes the loader can give a file or key."""

from __future__ import annotations

import re

from include.ingestion.contract import REASON_CODES
from include.ingestion.loader import FOLDER_MARKER, UNREADABLE
from include.settings import REPO_ROOT


def documented_file_reasons() -> set[str]:
    text = (REPO_ROOT / "docs" / "landing-contract.md").read_text()
    section = text.split("## File-level rejects", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)) - {"reason"}


def test_every_file_and_key_reason_code_is_documented_and_nothing_else():
    assert documented_file_reasons() == set(REASON_CODES) | {FOLDER_MARKER, UNREADABLE}
