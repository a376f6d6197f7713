"""Command line for the local lakehouse: `python -m devtools.stack {up,down,status,logs,reset}`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from devtools.stack.envfile import ensure_env_file
from devtools.stack.process import StackError
from devtools.stack.services import services
from include.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status", "reset"):
        cmd = sub.add_parser(name)
        cmd.add_argument("services", nargs="*", help="limit to these services (default: all)")
        if name == "up":
            cmd.add_argument("--trino-workers", type=int, metavar="N",
                             help="run Trino as a coordinator plus N workers (LAKEHOUSE_TRINO_WORKERS)")
    logs = sub.add_parser("logs")
    logs.add_argument("service")
    logs.add_argument("-n", "--lines", type=int, default=50)
    args = parser.parse_args(argv)

    if args.command == "up":
        ensure_env_file()
        if args.trino_workers is not None:
            os.environ["LAKEHOUSE_TRINO_WORKERS"] = str(args.trino_workers)
    settings = get_settings()
    chosen = services(settings, getattr(args, "services", None) or None)
    try:
        return COMMANDS[args.command](chosen, args, settings)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _up(chosen, args, settings) -> int:
    for svc in chosen:
        print(f"{svc.name:<10} {svc.start()}", flush=True)
    return 0


def _down(chosen, args, settings) -> int:
    for svc in reversed(chosen):
        print(f"{svc.name:<10} {'stopped' if svc.stop() else 'not running'}", flush=True)
    return 0


def _status(chosen, args, settings) -> int:
    unhealthy = 0
    for svc in chosen:
        try:
            state = svc.status()
        except StackError as exc:
            state = f"unhealthy: {exc.problem} (log: {exc.log})"
        unhealthy += state != "healthy"
        workers = getattr(svc, "workers", None)
        print(f"{svc.name:<10} port {svc.port:<6} {state}" + (f" ({svc.summary()})" if workers else ""))
    return 1 if unhealthy else 0


def _logs(chosen, args, settings) -> int:
    from devtools.stack.process import tail

    (svc,) = [s for s in services(settings) if s.name == args.service] or [None]
    if svc is None:
        print(f"error: unknown service {args.service!r}", file=sys.stderr)
        return 2
    print(tail(svc.log, args.lines))
    return 0


def _reset(chosen, args, settings) -> int:
    """Stop the services and delete their data: catalog, object store contents and logs."""
    for svc in reversed(chosen):
        svc.stop()
        svc.reset()
        print(f"{svc.name:<10} reset")
    if not args.services:
        shutil.rmtree(settings.home / "logs", ignore_errors=True)
    return 0


COMMANDS = {"up": _up, "down": _down, "status": _status, "logs": _logs, "reset": _reset}

if __name__ == "__main__":
    sys.exit(main())
