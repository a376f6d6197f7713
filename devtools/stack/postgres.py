"""PostgreSQL on loopback: the Iceberg JDBC catalog database and the Airflow metadata database."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from devtools.stack.process import StackError, pid_alive, port_open, tail, wait_until
from include.settings import Settings

NAME = "postgres"

# Iceberg's JDBC catalog schema at version V1 (the `iceberg_type` column lets the catalog hold views as well
# as tables). Trino's JDBC catalog does not create these tables itself. pyiceberg's SqlCatalog reads and writes
# the same rows, leaving iceberg_type NULL, which both sides treat as a table.
CATALOG_DDL = """
create table if not exists iceberg_namespace_properties (
    catalog_name varchar(255) not null,
    namespace varchar(255) not null,
    property_key varchar(255) not null,
    property_value varchar(1000),
    primary key (catalog_name, namespace, property_key)
);
create table if not exists iceberg_tables (
    catalog_name varchar(255) not null,
    table_namespace varchar(255) not null,
    table_name varchar(255) not null,
    metadata_location varchar(1000),
    previous_metadata_location varchar(1000),
    iceberg_type varchar(5),
    primary key (catalog_name, table_namespace, table_name)
);
"""


def pg_bin(tool: str) -> Path:
    """PostgreSQL server binaries: LAKEHOUSE_PG_BIN, the newest Debian install, or PATH."""
    candidates = []
    if os.environ.get("LAKEHOUSE_PG_BIN"):
        candidates.append(Path(os.environ["LAKEHOUSE_PG_BIN"]))
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True)
        candidates += [v / "bin" for v in versions]
    for directory in candidates:
        if (directory / tool).exists():
            return directory / tool
    found = shutil.which(tool)
    if found:
        return Path(found)
    raise StackError(NAME, None, None, f"PostgreSQL's `{tool}` not found; run scripts/setup.sh or set LAKEHOUSE_PG_BIN")


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root, so under root it runs as the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        problem = "running as root needs a `postgres` system user (apt-get install postgresql)"
        raise StackError(NAME, None, None, problem) from None
    return "postgres"


class Postgres:
    name = NAME

    def __init__(self, settings: Settings):
        self.s = settings
        self.port = settings.pg_port
        self.user = _run_as()
        self.data_dir = self._data_root() / "data"
        self.log = settings.home / "logs" / "postgres.log"

    def _data_root(self) -> Path:
        root = self.s.home / "postgres"
        if self.user and not _traversable_by(self.s.home, self.user):
            # The checkout sits under a directory the postgres user cannot enter (e.g. /root): keep the
            # cluster in a stable per-checkout place it can reach instead.
            digest = hashlib.sha256(str(self.s.home.resolve()).encode()).hexdigest()[:10]
            root = Path("/var/lib/lakehouse") / digest / "postgres"
        return root

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return prefix + list(args)

    def _chown(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialised():
            return
        if not self.s.pg_password:
            raise StackError(NAME, self.port, None, "LAKEHOUSE_PG_PASSWORD is empty; run `python -m devtools.stack up`")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir.parent)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", delete=False, dir=self.data_dir.parent) as pw:
            pw.write(self.s.pg_password)
        pw_file = Path(pw.name)
        self._chown(pw_file)
        try:
            result = subprocess.run(
                self._cmd(str(pg_bin("initdb")), "-D", str(self.data_dir), "-U", self.s.pg_user,
                          f"--pwfile={pw_file}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                          "-E", "UTF8", "--locale=C"),
                capture_output=True, text=True,
            )
        finally:
            pw_file.unlink(missing_ok=True)
        if result.returncode != 0:
            self.log.write_text(result.stdout + result.stderr)
            raise StackError(NAME, self.port, self.log, "initdb failed")
        conf = self.data_dir / "postgresql.conf"
        with open(conf, "a") as out:
            out.write(
                "\n# lakehouse: loopback only, TCP only\n"
                f"listen_addresses = '{self.s.bind_host}'\n"
                f"port = {self.port}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
            )

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists() and port_open(self.s.pg_host, self.port)

    def start(self) -> str:
        self.init()
        if self.running():
            self.check()
            return "already running"
        if port_open(self.s.pg_host, self.port):
            raise StackError(NAME, self.port, self.log,
                             "port is already in use by another process; set LAKEHOUSE_PG_PORT")
        self._remove_stale_pid_file()
        self.log.touch()
        self._chown(self.log)
        result = subprocess.run(
            # listen_addresses on the command line wins over postgresql.conf, so a cluster made by an older
            # version (or a hand-edited conf) still listens on the bind address only.
            self._cmd(str(pg_bin("pg_ctl")), "start", "-D", str(self.data_dir), "-l", str(self.log), "-w", "-t", "60",
                      "-o", f"-c listen_addresses='{self.s.bind_host}'"),
            capture_output=True, text=True,
        )
        if result.returncode != 0 or not wait_until(lambda: port_open(self.s.pg_host, self.port), 30):
            raise StackError(NAME, self.port, self.log, f"did not start: {tail(self.log, 5)}")
        self.check()
        self.ensure_databases()
        return "started"

    def _remove_stale_pid_file(self) -> None:
        """After a crash the lock file outlives the postmaster. PostgreSQL clears it itself unless the dead pid is
        still a zombie (a container whose init reaps nothing), which it takes for a live postmaster."""
        lock = self.data_dir / "postmaster.pid"
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if not pid_alive(pid):
            lock.unlink(missing_ok=True)

    def stop(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        subprocess.run(self._cmd(str(pg_bin("pg_ctl")), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"),
                       capture_output=True, text=True)
        return True

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        try:
            return psycopg2.connect(host=self.s.pg_host, port=self.port, user=self.s.pg_user,
                                    password=self.s.pg_password, dbname=dbname, connect_timeout=5)
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
            if "password authentication failed" in reason:
                reason = f"password authentication failed for user {self.s.pg_user!r}; check LAKEHOUSE_PG_PASSWORD"
            raise StackError(NAME, self.port, self.log, reason) from None

    def check(self) -> None:
        conn = self.connect()
        conn.close()

    def ensure_databases(self) -> None:
        conn = self.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in (self.s.pg_catalog_db, self.s.pg_airflow_db):
                cur.execute("select 1 from pg_database where datname = %s", (db,))
                if cur.fetchone() is None:
                    cur.execute(f'create database "{db}"')
        conn.close()
        conn = self.connect(self.s.pg_catalog_db)
        with conn, conn.cursor() as cur:
            cur.execute(CATALOG_DDL)
        conn.close()

    def status(self) -> str:
        if not self.running():
            return "stopped"
        self.check()
        return "healthy"

    def reset(self) -> None:
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _traversable_by(path: Path, user: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    probe = ["runuser", "-u", user, "--", "test", "-x", str(path)]
    return subprocess.run(probe, capture_output=True).returncode == 0
