"""Single-node Trino with the lakehouse catalog (TRINO_CATALOG): JDBC catalog on PostgreSQL, warehouse on local S3."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devtools.stack.artifacts import trino_home
from devtools.stack.java import find_java
from devtools.stack.process import StackError, port_open, read_pid, spawn, stop_pid, tail, wait_until
from devtools.stack.trino_catalog import catalog_file, catalog_properties
from include.settings import Settings

NAME = "trino"

# Sized for a 2-core, 24 GiB machine that also runs PostgreSQL, the object store, Airflow and dbt.
JVM_FLAGS = [
    "-XX:InitialRAMPercentage=10",
    "-XX:+UseG1GC",
    "-XX:G1HeapRegionSize=32M",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=256M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    "--enable-native-access=ALL-UNNAMED",
    "-XX:+EnableDynamicAgentLoading",
]


class Trino:
    name = NAME

    def __init__(self, settings: Settings):
        self.s = settings
        self.port = settings.trino_port
        self.root = settings.home / "trino"
        self.etc = self.root / "etc"
        self.log = settings.home / "logs" / "trino.log"
        self.pid_file = settings.home / "run" / "trino.pid"

    def _write_config(self) -> None:
        (self.etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.etc / "config.properties").write_text(
            "coordinator=true\n"
            "node-scheduler.include-coordinator=true\n"
            f"http-server.http.port={self.port}\n"
            f"discovery.uri=http://{self._address()}:{self.port}\n"
            f"query.max-memory={self._query_memory()}\n"
            f"query.max-memory-per-node={self._query_memory()}\n"
            "task.concurrency=2\n"
            f"catalog.config-dir={self.etc / 'catalog'}\n"
        )
        (self.etc / "log.properties").write_text("io.trino=INFO\n")
        # Secrets stay out of the file: Trino resolves ${ENV:...} from the process environment at start. Owner-only
        # all the same, since it names the catalog database and its user. The Astro path mounts the same renderer's
        # output (devtools/stack/trino_catalog.py).
        catalog = catalog_file(self.etc / "catalog", self.s)
        fd = os.open(catalog, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(catalog_properties(self.s))

    def _address(self) -> str:
        """Where this node is reached: the bind address, or loopback when it binds every interface."""
        return "127.0.0.1" if self.s.bind_host in ("0.0.0.0", "::", "") else self.s.bind_host

    def _query_memory(self) -> str:
        """Half the heap for queries: Trino keeps 30% as headroom and refuses to start if the two overlap."""
        heap = self.s.trino_heap.strip().upper()
        units = {"G": 1024, "M": 1}
        if not heap[:-1].isdigit() or heap[-1] not in units:
            raise StackError(NAME, self.port, None, f"TRINO_HEAP={self.s.trino_heap!r}: expected e.g. 6G or 4096M")
        return f"{int(heap[:-1]) * units[heap[-1]] // 2}MB"

    def _command(self, java: Path, home: Path) -> list[str]:
        return [
            str(java),
            f"-Xmx{self.s.trino_heap}",
            *JVM_FLAGS,
            "-cp", f"{home / 'lib'}/*",
            f"-Dconfig={self.etc / 'config.properties'}",
            f"-Dlog.levels-file={self.etc / 'log.properties'}",
            "-Dnode.environment=lakehouse",
            "-Dnode.id=lakehouse-local",
            f"-Dnode.data-dir={self.root / 'data'}",
            # Jetty binds node.bind-ip (airlift's default is every interface: Trino has no authentication here).
            f"-Dnode.bind-ip={self.s.bind_host}",
            f"-Dnode.internal-address={self._address()}",
            f"-Dplugin.dir={home / 'plugin'}",
            "io.trino.server.TrinoServer",
        ]

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and port_open(self.s.trino_host, self.port)

    def start(self) -> str:
        if self.running():
            self.check()
            return "already running"
        if port_open(self.s.trino_host, self.port):
            raise StackError(NAME, self.port, self.log, "port is already in use by another process; set TRINO_PORT")
        java = find_java(self.port)
        home = trino_home(self.s.cache, self.s.trino_version)
        self._write_config()
        env = dict(os.environ)
        env.update(LAKEHOUSE_PG_USER=self.s.pg_user, LAKEHOUSE_PG_PASSWORD=self.s.pg_password,
                   AWS_ACCESS_KEY_ID=self.s.s3_access_key, AWS_SECRET_ACCESS_KEY=self.s.s3_secret_key,
                   JAVA_HOME=str(java.parent.parent))
        pid = spawn(self._command(java, home), self.log, self.pid_file, cwd=self.root, env=env)
        # Generous: on a busy 2-core machine Trino took over 5 minutes to start (a dead process still ends the wait).
        ok = wait_until(self._started, 600, alive=lambda: read_pid(self.pid_file) == pid)
        if not ok:
            raise StackError(NAME, self.port, self.log, f"did not become ready: {tail(self.log, 8)}")
        self.check()
        return "started"

    def _started(self) -> bool:
        import json
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://{self.s.trino_host}:{self.port}/v1/info", timeout=2) as resp:
                return not json.load(resp).get("starting", True)
        except OSError:
            return False

    def check(self) -> None:
        from trino.exceptions import TrinoQueryError

        from include.settings import trino_connection

        try:
            cur = trino_connection(self.s).cursor()
            cur.execute(f"show schemas from {self.s.trino_catalog}")
            cur.fetchall()
        except TrinoQueryError as exc:
            problem = f"catalog {self.s.trino_catalog!r} failed: {exc.message}"
            raise StackError(NAME, self.port, self.log, problem) from None
        except Exception as exc:  # noqa: BLE001 - any client failure is reported the same way
            raise StackError(NAME, self.port, self.log, f"not answering SQL: {exc}") from None

    def stop(self) -> bool:
        return stop_pid(self.pid_file, timeout=60)

    def status(self) -> str:
        if not self.running():
            return "stopped"
        self.check()
        return "healthy"

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
