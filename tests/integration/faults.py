"""Fault injection on the local stack's own processes (loopback only): kill a service hard, then bring it back."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from devtools.stack.process import _signal_group, pid_alive, wait_until


def service(settings, name: str):
    from devtools.stack.services import services

    (svc,) = services(settings, [name])
    return svc


def _pid_file(svc) -> Path:
    # PostgreSQL keeps its own pid file (first line: the postmaster's pid); the other services have one of ours.
    return getattr(svc, "pid_file", None) or svc.data_dir / "postmaster.pid"


def _pid(svc) -> int | None:
    path = _pid_file(svc)
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill(svc) -> None:
    """SIGKILL the service's process group, as a crash or an OOM kill would: no clean shutdown."""
    pid = _pid(svc)
    assert pid is not None and pid_alive(pid), f"{svc.name} is not running"
    _signal_group(pid, signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(pid), 30), f"{svc.name} survived SIGKILL"
    if hasattr(svc, "pid_file"):
        svc.pid_file.unlink(missing_ok=True)


@contextmanager
def restored(svc):
    """Whatever the test does to `svc`, it is running and healthy again afterwards."""
    try:
        yield svc
    finally:
        pid = _pid(svc)
        if pid is None or not pid_alive(pid):
            svc.start()
        assert svc.status() == "healthy", f"{svc.name} did not come back"


def run_in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict]:
    """Run `fn` in the background; the dict receives its result or the exception it raised."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever the work raised
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
