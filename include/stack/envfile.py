"""Create `.env` from `.env.example` on first use, generating the local stack's secrets.

Later runs add keys that a newer `.env.example` introduced, and never touch values already there.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from include.settings import REPO_ROOT

PLACEHOLDER = "<generate>"


def _generate(key: str) -> str:
    if key == "AWS_ACCESS_KEY_ID":
        return secrets.token_hex(10).upper()  # access key ids are conventionally upper-case alphanumerics
    if key == "AIRFLOW_FERNET_KEY":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(24)


def ensure_env_file(path: Path | None = None) -> Path:
    path = path or Path(os.environ.get("LAKEHOUSE_ENV_FILE", REPO_ROOT / ".env"))
    existing = path.read_text().splitlines() if path.exists() else []
    present = {line.partition("=")[0].strip() for line in existing if "=" in line and not line.startswith("#")}
    added = []
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if not path.exists():
            added.append(f"{key}={_generate(key)}" if sep and value.strip() == PLACEHOLDER else line)
        elif sep and not line.startswith("#") and key.strip() not in present:
            added.append(f"{key}={_generate(key) if value.strip() == PLACEHOLDER else value}")
    if not added:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write("\n".join(added) + "\n")
    return path
