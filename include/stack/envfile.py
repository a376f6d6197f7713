"""Create `.env` from `.env.example` on first use, generating the local stack's secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from include.settings import REPO_ROOT

PLACEHOLDER = "<generate>"


def ensure_env_file(path: Path | None = None) -> Path:
    path = path or Path(os.environ.get("LAKEHOUSE_ENV_FILE", REPO_ROOT / ".env"))
    if path.exists():
        return path
    lines = []
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and value.strip() == PLACEHOLDER:
            # S3 access key ids are conventionally upper-case alphanumerics; any secret works for the rest.
            generated = secrets.token_hex(10).upper() if key == "AWS_ACCESS_KEY_ID" else secrets.token_urlsafe(24)
            line = f"{key}={generated}"
        lines.append(line)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    return path
