"""s3proxy on loopback: an S3 API over a directory on disk, so landing files and tables survive restarts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devtools.stack.artifacts import s3proxy_jar
from devtools.stack.java import find_java
from devtools.stack.process import StackError, port_open, read_pid, spawn, stop_pid, tail, wait_until
from include.settings import Settings, s3_client

NAME = "s3proxy"


class ObjectStore:
    name = NAME

    def __init__(self, settings: Settings):
        self.s = settings
        self.host, self.port = settings.s3_endpoint_host_port
        self.root = settings.home / "s3proxy"
        self.data_dir = self.root / "data"
        self.log = settings.home / "logs" / "s3proxy.log"
        self.pid_file = settings.home / "run" / "s3proxy.pid"

    def _write_config(self) -> Path:
        if not self.s.s3_access_key or not self.s.s3_secret_key:
            raise StackError(NAME, self.port, None, "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are empty")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.root / "s3proxy.conf"
        # The file holds the local store's credential, so only its owner may read it.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                f"s3proxy.endpoint=http://{self.s.bind_host}:{self.port}\n"
                "s3proxy.authorization=aws-v2-or-v4\n"
                # Recent AWS SDKs (Trino's among them) send headers s3proxy does not know; they are hints only.
                "s3proxy.ignore-unknown-headers=true\n"
                f"s3proxy.identity={self.s.s3_access_key}\n"
                f"s3proxy.credential={self.s.s3_secret_key}\n"
                "jclouds.provider=filesystem-nio2\n"
                f"jclouds.filesystem.basedir={self.data_dir}\n"
            )
        return conf

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and port_open(self.host, self.port)

    def start(self) -> str:
        if self.running():
            self.check()
            self.ensure_buckets()
            return "already running"
        if port_open(self.host, self.port):
            raise StackError(NAME, self.port, self.log,
                             "port is already in use by another process; set S3_ENDPOINT_URL")
        java = find_java(self.port)
        jar = s3proxy_jar(self.s.cache, self.s.s3proxy_version)
        conf = self._write_config()
        pid = spawn([str(java), "-Xmx512m", "-jar", str(jar), "--properties", str(conf)], self.log, self.pid_file)
        ok = wait_until(lambda: port_open(self.host, self.port), 90, alive=lambda: read_pid(self.pid_file) == pid)
        if not ok:
            raise StackError(NAME, self.port, self.log, f"did not start: {tail(self.log, 5)}")
        self.check()
        self.ensure_buckets()
        return "started"

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            s3_client(self.s).list_buckets()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            problem = f"S3 refused the credentials ({code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            raise StackError(NAME, self.port, self.log, problem) from None
        except BotoCoreError as exc:
            raise StackError(NAME, self.port, self.log, f"S3 API not answering: {exc}") from None

    def ensure_buckets(self) -> None:
        client = s3_client(self.s)
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in (self.s.landing_bucket, self.s.warehouse_bucket, self.s.quarantine_bucket):
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)

    def stop(self) -> bool:
        return stop_pid(self.pid_file)

    def status(self) -> str:
        if not self.running():
            return "stopped"
        self.check()
        return "healthy"

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

