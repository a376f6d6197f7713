"""A loopback stand-in for Slack's incoming webhooks: it accepts what Slack would and keeps every message on disk.

Run it with `python -m devtools.receiver --host 127.0.0.1 --port 58099 --out FILE`; the stack starts it as
the `webhook` service (`WebhookReceiver`). A Slack webhook connection whose host is `127.0.0.1:58099/services`
(schema `http`) makes `SlackWebhookHook` post here; a real hooks.slack.com URL sends to Slack instead.
Standard library only, so the service starts without the Airflow environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from devtools.stack.process import StackError, port_open, read_pid, spawn, stop_pid, tail, wait_until
from include.settings import REPO_ROOT, Settings

NAME = "webhook"
# Slack caps a message far below this; the limit only keeps a runaway client from filling the disk.
MAX_BODY = 1_000_000


def messages_file(settings: Settings) -> Path:
    return settings.home / "webhook" / "messages.jsonl"


def read_messages(settings: Settings) -> list[dict]:
    """Every message the receiver accepted, oldest first: `{"received_at", "path", "payload"}` each."""
    path = messages_file(settings)
    if not path.is_file():
        return []
    messages = []
    for line in path.read_text().splitlines():
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line still being written by the receiver
    return messages


def _parse_payload(body: bytes, content_type: str) -> dict | None:
    """The message as Slack would read it (JSON, or the legacy form field `payload=`); None when invalid."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            body = parse_qs(body.decode("utf-8")).get("payload", [""])[0].encode("utf-8")
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
        return None
    return payload


class _Handler(BaseHTTPRequestHandler):
    # Set per server by `serve`.
    out: Path
    lock: threading.Lock

    def _reply(self, status: int, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, "ok")
        else:
            self._reply(404, "not_found")

    def do_POST(self) -> None:
        if not self.path.startswith("/services/"):
            self._reply(404, "no_service")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, "payload_too_large")
            return
        payload = _parse_payload(self.rfile.read(length), self.headers.get("Content-Type", ""))
        if payload is None:
            self._reply(400, "invalid_payload")
            return
        record = {"received_at": datetime.now(timezone.utc).isoformat(), "path": self.path, "payload": payload}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        # Requests run on threads: one writer at a time keeps each message on its own whole line, and fsync
        # before replying means a reader that saw `200 ok` also sees the line.
        with self.lock, open(self.out, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._reply(200, "ok")

    def log_message(self, format: str, *args) -> None:
        # The path after /services/ is the webhook token: keep it out of the log.
        parts = self.path.split("/")
        shown = "/".join(parts[:3]) + "/***" if self.path.startswith("/services/") and len(parts) > 3 else self.path
        sys.stderr.write(f"{self.log_date_time_string()} {self.command} {shown} {args[1] if len(args) > 1 else ''}\n")


def serve(host: str, port: int, out: Path) -> ThreadingHTTPServer:
    """A server bound to `host:port` appending to `out`; call `serve_forever()` on it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handler = type("WebhookHandler", (_Handler,), {"out": out, "lock": threading.Lock()})
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=58099)
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file the messages are appended to")
    args = parser.parse_args(argv)
    server = serve(args.host, args.port, args.out)
    print(f"webhook receiver on http://{args.host}:{args.port}/services/ writing {args.out}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class WebhookReceiver:
    """The receiver as a stack service: `start`, `stop`, `status`, `reset`, like the other services."""

    name = NAME

    def __init__(self, settings: Settings):
        self.s = settings
        self.host = settings.bind_host
        self.port = settings.webhook_port
        self.out = messages_file(settings)
        self.log = settings.home / "logs" / "webhook.log"
        self.pid_file = settings.home / "run" / "webhook.pid"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/services"

    def healthy(self) -> bool:
        from urllib.error import URLError
        from urllib.request import urlopen

        try:
            with urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as resp:
                return resp.status == 200
        except (URLError, OSError):
            return False

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and port_open(self.host, self.port)

    def start(self) -> str:
        if self.running():
            self.status()
            return "already running"
        if port_open(self.host, self.port):
            raise StackError(NAME, self.port, self.log,
                             "port is already in use by another process; set LAKEHOUSE_WEBHOOK_PORT")
        # Run from the checkout so `-m devtools.receiver` resolves whatever the caller's directory is.
        path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        cmd = [sys.executable, "-m", "devtools.receiver",
               "--host", self.host, "--port", str(self.port), "--out", str(self.out)]
        pid = spawn(cmd, self.log, self.pid_file, cwd=REPO_ROOT, env=env)
        if not wait_until(self.healthy, 30, alive=lambda: read_pid(self.pid_file) == pid):
            raise StackError(NAME, self.port, self.log, f"did not start: {tail(self.log, 5)}")
        return "started"

    def stop(self) -> bool:
        stopped = stop_pid(self.pid_file, timeout=10)
        # The main thread can be reaped while a request thread still holds the socket for a moment; wait for the
        # port to close so an immediate `start` does not find it taken.
        wait_until(lambda: not port_open(self.host, self.port), 5)
        return stopped

    def status(self) -> str:
        if not self.running():
            return "stopped"
        if not self.healthy():
            raise StackError(NAME, self.port, self.log, "GET /health did not answer 200")
        return "healthy"

    def reset(self) -> None:
        shutil.rmtree(self.out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
