"""Fault injection on the local stack's own processes (loopback only): kill a service hard, then bring it back."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from include.stack.process import _signal_group, pid_alive, read_pid, wait_until


def service(settings, name: str):
    from include.stack.services import services

    (svc,) = services(settings, [name])
    return svc


def kill(svc) -> None:
    """SIGKILL the service's process group, as a crash or an OOM kill would: no clean shutdown."""
    pid = read_pid(svc.pid_file)
    assert pid is not None, f"{svc.name} is not running"
    _signal_group(pid, signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(pid), 30), f"{svc.name} survived SIGKILL"
    svc.pid_file.unlink(missing_ok=True)


@contextmanager
def restored(svc):
    """Whatever the test does to `svc`, it is running and healthy again afterwards."""
    try:
        yield svc
    finally:
        if read_pid(svc.pid_file) is None:
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
