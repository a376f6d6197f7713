"""Create `.env` from `.env.example` on first use, generating the local stack's secrets.

Later runs add keys that a newer `.env.example` introduced (an older `.env` gains e.g. AIRFLOW_ADMIN_PASSWORD),
and never touch values already there. `.env` is made owner-only (0600) whenever `up` sees it. A value still set
to `<generate>` is left alone here and refused by `get_settings()`, which names the key.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from include.settings import PLACEHOLDER, REPO_ROOT, env_file_path


def _generate(key: str) -> str:
    if key == "AWS_ACCESS_KEY_ID":
        return secrets.token_hex(10).upper()  # access key ids are conventionally upper-case alphanumerics
    if key == "AIRFLOW_FERNET_KEY":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(24)


def _missing_lines(path: Path, example: Path) -> list[str]:
    """The lines to write: the whole example on first use, else only the keys `path` lacks."""
    first_use = not path.exists()
    existing = [] if first_use else path.read_text().splitlines()
    present = {line.partition("=")[0].strip() for line in existing if "=" in line and not line.lstrip().startswith("#")}
    lines = []
    for line in example.read_text().splitlines():
        key, sep, value = line.partition("=")
        is_setting = bool(sep) and not line.lstrip().startswith("#")
        if first_use:
            lines.append(f"{key}={_generate(key.strip())}" if is_setting and value.strip() == PLACEHOLDER else line)
        elif is_setting and key.strip() not in present:
            lines.append(f"{key}={_generate(key.strip()) if value.strip() == PLACEHOLDER else value}")
    return lines


def ensure_env_file(path: Path | None = None, example: Path | None = None) -> Path:
    path = path or env_file_path()
    added = _missing_lines(path, example or REPO_ROOT / ".env.example")
    if added and path.exists() and path.read_bytes()[-1:] not in (b"", b"\n"):
        added.insert(0, "")  # a hand-edited `.env` may lack its last newline
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_CREAT's mode only applies to a new file; fchmod also tightens a `.env` made by hand or by an older version.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
        if added:
            out.write("\n".join(added) + "\n")
    return path
