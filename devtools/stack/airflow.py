"""Airflow 3 on the stack's PostgreSQL: api-server (UI on :8080), scheduler, dag-processor and triggerer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from devtools.stack.process import StackError, port_open, read_pid, spawn, stop_pid, tail, wait_until
from include.pipeline.dbt_docs import dbt_docs_projects
from include.settings import REPO_ROOT, Settings

NAME = "airflow"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# The scheduler and triggerer would each start a log server on every interface (Airflow has no bind option for
# it). Tasks run on this machine and write their logs under AIRFLOW_HOME, where the api-server reads them, so the
# log servers are not needed.
COMPONENT_ARGS = {"api-server": ["--workers", "1"], "scheduler": ["--skip-serve-logs"],
                  "triggerer": ["--skip-serve-logs"]}


def connections(settings: Settings) -> dict[str, dict]:
    """The Airflow connections the DAG uses, for the local stack (or whatever the settings point at)."""
    aws_extra = {"region_name": settings.s3_region, "config_kwargs": {"s3": {"addressing_style": "path"}}}
    if settings.s3_endpoint_url:
        aws_extra["endpoint_url"] = settings.s3_endpoint_url
    trino_extra = {"protocol": settings.trino_http_scheme}
    if settings.slack_webhook_url:
        slack = {"conn_type": "slackwebhook", "password": settings.slack_webhook_url}
    else:
        # The local receiver; the Slack provider builds http://<host>/<password> from these fields.
        slack = {"conn_type": "slackwebhook", "schema": "http", "password": "T0LOCAL/B0LOCAL/local-token",
                 "host": f"127.0.0.1:{settings.webhook_port}/services"}
    trino = {"conn_type": "trino", "host": settings.trino_host, "port": settings.trino_port,
             "login": settings.trino_user, "extra": trino_extra}
    if settings.trino_password:
        trino["password"] = settings.trino_password
    ids = settings.pipeline
    return {
        ids.aws_conn_id: {"conn_type": "aws", "login": settings.s3_access_key, "password": settings.s3_secret_key,
                          "extra": aws_extra},
        ids.trino_conn_id: trino,
        ids.slack_conn_id: slack,
    }


# The sensor settings of the local stack (`Settings.pipeline` reads them): a missing optional source costs
# seconds here, not the production half hour. Every Airflow process parses the DAG, so all of them get these.
LOCAL_SENSOR_SETTINGS = {
    "LAKEHOUSE_OPTIONAL_SOURCE_TIMEOUT_SECONDS": "20",
    "LAKEHOUSE_TRANSACTIONS_TIMEOUT_SECONDS": "60",
    "LAKEHOUSE_POKE_INTERVAL_SECONDS": "5",
    "LAKEHOUSE_RETRY_DELAY_SECONDS": "5",
}


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for every Airflow process: config, and connections as AIRFLOW_CONN_* (never written to disk)."""
    home = settings.home / "airflow"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": settings.airflow_fernet_key,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{settings.airflow_port}/execution/",
        # One named admin whose password comes from .env (see `write_passwords_file`). All-admins mode is off
        # explicitly, so an AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS inherited from the shell cannot open the API.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.pg_sqlalchemy_url(settings.pg_airflow_db),
        "AIRFLOW__API__HOST": settings.bind_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{settings.airflow_port}",
        "AIRFLOW__API__SECRET_KEY": settings.airflow_api_secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": settings.airflow_jwt_secret,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # No usage telemetry from a local stack (and no network to send it on).
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # orjson reads the dbt manifest several times faster than json at DAG parse.
        "AIRFLOW__COSMOS__ENABLE_ORJSON_PARSER": "True",
        # The WATCHER producer backs its results up to a Variable on its retry and failure callbacks only, not
        # again on every node: see docs/running.md (what a run's processes cost) and docs/benchmarks.md.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
        # Each dbt task keeps its run results, so the main job's report can count tests passed and failed.
        "LAKEHOUSE_DBT_RESULTS_DIR": str(settings.home / "dbt-results"),
        # dbt docs go to a folder of the stack's home, which the api-server serves under Browse (Cosmos's plugin).
        "LAKEHOUSE_DBT_DOCS_DIR": str(settings.home / "dbt-docs"),
        "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS": dbt_docs_projects(str(settings.home / "dbt-docs")),
        # Locally a missing file should cost seconds, not the production half hour (see docs/running.md).
        **LOCAL_SENSOR_SETTINGS,
    }
    for conn_id, conn in connections(settings).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return env


def passwords_file(settings: Settings) -> Path:
    return settings.home / "airflow" / "simple_auth_manager_passwords.json"


def write_passwords_file(settings: Settings) -> Path:
    """SimpleAuthManager's password file, written from .env before Airflow starts (owner-only: it is plaintext).

    Written every start, so a password changed in .env takes effect on the next `up`, and Airflow never generates
    one of its own (which it would print to its log).
    """
    path = passwords_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps({settings.airflow_admin_user: settings.airflow_admin_password}) + "\n")
    return path


def api_token(settings: Settings, timeout: float = 30) -> str:
    """A bearer token for Airflow's REST API (`Authorization: Bearer <token>`), for the admin user in .env."""
    from devtools.airflow_api import AirflowApi, AirflowApiError

    try:
        return AirflowApi(settings, timeout=timeout).token()
    except AirflowApiError as exc:
        raise StackError(NAME, settings.airflow_port, None, str(exc)) from None


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


class Airflow:
    name = NAME

    def __init__(self, settings: Settings):
        self.s = settings
        self.port = settings.airflow_port
        self.home = settings.home / "airflow"
        self.log = settings.home / "logs" / "airflow-api-server.log"

    def _pid_file(self, component: str) -> Path:
        return self.s.home / "run" / f"airflow-{component}.pid"

    def _log(self, component: str) -> Path:
        return self.s.home / "logs" / f"airflow-{component}.log"

    def env(self) -> dict[str, str]:
        if not self.s.airflow_fernet_key or not self.s.airflow_jwt_secret or not self.s.airflow_admin_password:
            raise StackError(NAME, self.port, None,
                             "AIRFLOW_FERNET_KEY / AIRFLOW_JWT_SECRET / AIRFLOW_ADMIN_PASSWORD are empty; run `up`")
        return {**os.environ, **airflow_env(self.s)}

    def running(self) -> bool:
        return all(read_pid(self._pid_file(c)) for c in COMPONENTS) and port_open("127.0.0.1", self.port)

    def migrate(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.s.home / "logs" / "airflow-db-migrate.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            result = subprocess.run([airflow_bin(), "db", "migrate"], env=self.env(), stdout=out,
                                    stderr=subprocess.STDOUT, timeout=600)
        if result.returncode != 0:
            raise StackError(NAME, self.port, log, f"`airflow db migrate` failed: {tail(log, 3)}")

    def start(self) -> str:
        if self.running():
            self.check()
            return "already running"
        missing = [c for c in COMPONENTS if not read_pid(self._pid_file(c))]
        if "api-server" in missing and port_open("127.0.0.1", self.port):
            raise StackError(NAME, self.port, self.log, "port is already in use by another process; set AIRFLOW_PORT")
        self.migrate()
        write_passwords_file(self.s)
        env = self.env()
        for component in missing:
            cmd = [airflow_bin(), component, *COMPONENT_ARGS.get(component, [])]
            spawn(cmd, self._log(component), self._pid_file(component), cwd=REPO_ROOT, env=env)
        # Generous for a busy 2-core machine; a component that dies still ends the wait at once.
        if not wait_until(self._healthy, 600, alive=lambda: all(read_pid(self._pid_file(c)) for c in COMPONENTS)):
            dead = [c for c in COMPONENTS if not read_pid(self._pid_file(c))]
            log = self._log(dead[0]) if dead else self.log
            raise StackError(NAME, self.port, log, f"did not become healthy ({', '.join(dead) or 'health check'}): "
                                                   f"{tail(log, 5)}")
        return "started (UI: http://localhost:%d)" % self.port

    def health(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=5) as resp:
            return json.load(resp)

    def _healthy(self) -> bool:
        try:
            health = self.health()
        except OSError:
            return False
        return all(health.get(k, {}).get("status") == "healthy"
                   for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def check(self) -> None:
        try:
            health = self.health()
        except OSError as exc:
            raise StackError(NAME, self.port, self.log, f"API server not answering: {exc}") from None
        bad = {k: v.get("status") for k, v in health.items() if isinstance(v, dict) and v.get("status") != "healthy"}
        if bad:
            raise StackError(NAME, self.port, self.log, f"unhealthy components: {bad}")

    def stop(self) -> bool:
        stopped = [stop_pid(self._pid_file(c), timeout=30) for c in reversed(COMPONENTS)]
        return any(stopped)

    def status(self) -> str:
        if not any(read_pid(self._pid_file(c)) for c in COMPONENTS):
            return "stopped"
        self.check()
        return "healthy"

    def reset(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
