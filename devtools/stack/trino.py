"""Trino with the lakehouse catalog (`<TRINO_CATALOG>.properties`: JDBC catalog on PostgreSQL, warehouse on the local
S3 store): one node, or with LAKEHOUSE_TRINO_WORKERS=N (`up --trino-workers N`) a coordinator that schedules no work
plus N workers, each its own JVM with its own node dir, on loopback port TRINO_PORT + i. Queries then really run
distributed."""

from __future__ import annotations

import os
import re
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


def heap_mb(heap: str, port: int) -> int:
    units = {"G": 1024, "M": 1}
    value = heap.strip().upper()
    if not value[:-1].isdigit() or value[-1] not in units:
        raise StackError(NAME, port, None, f"heap {heap!r}: expected e.g. 6G or 4096M")
    return int(value[:-1]) * units[value[-1]]


def query_memory_mb(heap: str, port: int) -> int:
    """What one query may reserve on a node: half its heap. Trino keeps HEADROOM of the heap for untracked
    allocations and refuses to start if the two overlap; the memory pool is the rest (70%)."""
    return heap_mb(heap, port) // 2


# Fraction of each heap kept out of the memory pool (Trino's default, written out so the sizing is visible).
HEADROOM = 0.3
# Measured by bench/scale.py (docs/benchmarks.md, "Scale"): the largest dbt queries (stg_transactions and the
# fact's first build) reserve memory in proportion to the whole history, because their window functions hold
# every transaction. Spilling to the node's disk lets them finish past the limit instead of failing.
SPILL_PER_NODE = "20GB"


def memory_properties(node: _Node, query_mb: int) -> str:
    heap = heap_mb(node.heap, node.port)
    spill = node.root / "data" / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    return (
        f"query.max-memory-per-node={query_mb}MB\n"
        f"memory.heap-headroom-per-node={int(heap * HEADROOM)}MB\n"
        "spill-enabled=true\n"
        f"spiller-spill-path={spill}\n"
        f"max-spill-per-node={SPILL_PER_NODE}\n"
        f"query-max-spill-per-node={SPILL_PER_NODE}\n"
    )


def write_catalog(settings: Settings, etc: Path) -> None:
    # Secrets stay out of the file: Trino resolves ${ENV:...} from the process environment at start. Owner-only
    # all the same, since it names the catalog database and its user. The Astro path mounts the same renderer's
    # output (devtools/stack/trino_catalog.py).
    (etc / "catalog").mkdir(parents=True, exist_ok=True)
    (etc / "log.properties").write_text("io.trino=INFO\n")
    catalog = catalog_file(etc / "catalog", settings)
    fd = os.open(catalog, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(catalog_properties(settings))


class _Node:
    """One Trino JVM: the coordinator or a worker, with its own etc/, data dir, log and pid file."""

    def __init__(self, settings: Settings, name: str, port: int, heap: str, root: Path):
        self.s, self.name, self.port, self.heap, self.root = settings, name, port, heap, root
        self.etc = root / "etc"
        self.log = settings.home / "logs" / f"{name}.log"
        self.pid_file = settings.home / "run" / f"{name}.pid"

    def address(self) -> str:
        """Where this node is reached: the bind address, or loopback when it binds every interface."""
        return "127.0.0.1" if self.s.bind_host in ("0.0.0.0", "::", "") else self.s.bind_host

    def command(self, java: Path, home: Path) -> list[str]:
        return [
            str(java),
            f"-Xmx{self.heap}",
            *JVM_FLAGS,
            "-cp", f"{home / 'lib'}/*",
            f"-Dconfig={self.etc / 'config.properties'}",
            f"-Dlog.levels-file={self.etc / 'log.properties'}",
            "-Dnode.environment=lakehouse",
            f"-Dnode.id=lakehouse-{self.name}",
            f"-Dnode.data-dir={self.root / 'data'}",
            # Jetty binds node.bind-ip (airlift's default is every interface: Trino has no authentication here).
            f"-Dnode.bind-ip={self.s.bind_host}",
            f"-Dnode.internal-address={self.address()}",
            f"-Dplugin.dir={home / 'plugin'}",
            "io.trino.server.TrinoServer",
        ]

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and port_open(self.s.trino_host, self.port)

    def started(self) -> bool:
        import json
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://{self.s.trino_host}:{self.port}/v1/info", timeout=2) as resp:
                return not json.load(resp).get("starting", True)
        except OSError:
            return False

    def spawn(self, java: Path, home: Path, env: dict) -> int:
        if port_open(self.s.trino_host, self.port):
            raise StackError(self.name, self.port, self.log, "port already in use by another process; set TRINO_PORT")
        return spawn(self.command(java, home), self.log, self.pid_file, cwd=self.root, env=env)

    def wait(self, pid: int) -> None:
        # Generous: on a busy 2-core machine Trino took over 5 minutes to start (a dead process still ends the wait).
        if not wait_until(self.started, 600, alive=lambda: read_pid(self.pid_file) == pid):
            raise StackError(self.name, self.port, self.log, f"did not become ready: {tail(self.log, 8)}")


class Trino:
    name = NAME

    def __init__(self, settings: Settings):
        self.s = settings
        self.port = settings.trino_port
        self.root = settings.home / "trino"
        self.coordinator = _Node(settings, NAME, self.port, settings.trino_heap, self.root)
        self.etc, self.log, self.pid_file = self.coordinator.etc, self.coordinator.log, self.coordinator.pid_file
        self.workers = [self._worker(i) for i in self._worker_numbers()]

    def _worker(self, i: int) -> _Node:
        return _Node(self.s, f"trino-worker-{i}", self.port + i, self.s.trino_worker_heap, self.root / f"worker-{i}")

    def _worker_numbers(self) -> list[int]:
        """The configured workers, or (for status and down without the option) those with a pid file."""
        if self.s.trino_workers > 0:
            return list(range(1, self.s.trino_workers + 1))
        run = self.s.home / "run"
        found = (re.fullmatch(r"trino-worker-(\d+)\.pid", p.name) for p in run.glob("trino-worker-*.pid"))
        return sorted(int(m[1]) for m in found if m)

    def _write_config(self) -> None:
        workers = len(self.workers)
        own = query_memory_mb(self.s.trino_heap, self.port)
        per_worker = query_memory_mb(self.s.trino_worker_heap, self.port) if workers else own
        write_catalog(self.s, self.etc)
        (self.etc / "config.properties").write_text(
            "coordinator=true\n"
            f"node-scheduler.include-coordinator={'false' if workers else 'true'}\n"
            f"http-server.http.port={self.port}\n"
            f"discovery.uri=http://{self.coordinator.address()}:{self.port}\n"
            f"query.max-memory={per_worker * max(workers, 1)}MB\n"
            + memory_properties(self.coordinator, own)
            + "task.concurrency=2\n"
            f"catalog.config-dir={self.etc / 'catalog'}\n"
        )
        for worker in self.workers:
            write_catalog(self.s, worker.etc)
            (worker.etc / "config.properties").write_text(
                "coordinator=false\n"
                f"http-server.http.port={worker.port}\n"
                f"discovery.uri=http://{self.coordinator.address()}:{self.port}\n"
                + memory_properties(worker, per_worker)
                + "task.concurrency=2\n"
                f"catalog.config-dir={worker.etc / 'catalog'}\n"
            )

    def running(self) -> bool:
        return self.coordinator.running()

    def start(self) -> str:
        if self.running():
            self.check()
            return "already running"
        java = find_java(self.port)
        home = trino_home(self.s.cache, self.s.trino_version)
        self._write_config()
        env = dict(os.environ)
        env.update(LAKEHOUSE_PG_USER=self.s.pg_user, LAKEHOUSE_PG_PASSWORD=self.s.pg_password,
                   AWS_ACCESS_KEY_ID=self.s.s3_access_key, AWS_SECRET_ACCESS_KEY=self.s.s3_secret_key,
                   JAVA_HOME=str(java.parent.parent))
        # All JVMs start at once: on two cores their start-ups overlap instead of adding up.
        nodes = [self.coordinator, *(w for w in self.workers if not w.running())]
        pids = [(node, node.spawn(java, home, env)) for node in nodes]
        for node, pid in pids:
            node.wait(pid)
        if self.workers and not wait_until(lambda: self.active_workers() == len(self.workers), 300):
            raise StackError(NAME, self.port, self.log, f"{self.active_workers()} of {len(self.workers)} workers "
                                                        "joined the coordinator")
        self.check()
        return f"started ({self.summary()})" if self.workers else "started"

    def summary(self) -> str:
        return f"coordinator + {len(self.workers)} worker(s) on ports " + ", ".join(str(w.port) for w in self.workers)

    def active_workers(self) -> int:
        """Workers the coordinator sees as active (0 while it cannot answer yet)."""
        from include.settings import trino_connection

        try:
            cur = trino_connection(self.s).cursor()
            cur.execute("select count(*) from system.runtime.nodes where coordinator = false and state = 'active'")
            return cur.fetchall()[0][0]
        except Exception:  # noqa: BLE001 - not answering yet counts as none
            return 0

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
        stopped = [stop_pid(w.pid_file, timeout=60) for w in self.workers]
        return stop_pid(self.pid_file, timeout=60) or any(stopped)

    def status(self) -> str:
        if not self.running():
            return "stopped"
        self.check()
        down = [w.name for w in self.workers if not w.running()]
        if down or (self.workers and self.active_workers() != len(self.workers)):
            problem = f"{', '.join(down) or 'a worker'} not running or not joined"
            raise StackError(NAME, self.port, self.log, problem)
        return "healthy"

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
