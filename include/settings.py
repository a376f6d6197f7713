"""Every setting the project uses, as one typed object read from the environment (and `.env`) in one place.

`Settings` holds the endpoints and credentials, and sections for the DAGs (`pipeline`), dbt (`dbt`), the alerts
(`alerts`) and the loader (`ingest`). Build it with `get_settings()` once per DAG parse or task and pass it on; no
other module reads the environment (tests/unit/test_settings.py). Local defaults point at the loopback stack that
`python -m devtools.stack up` starts. Production
(AWS S3, a Glue or REST Iceberg catalog, Starburst Galaxy) is reached by setting the same variables:
see `.env.example` and `docs/deploy.md`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
# What `.env.example` holds where a secret goes; `python -m devtools.stack up` replaces it when it creates `.env`.
PLACEHOLDER = "<generate>"
# An airlift duration, the form Trino's catalog properties take (e.g. `7d`, `12h`, `0s`).
DURATION = re.compile(r"^\d+(\.\d+)?\s*(ns|us|ms|s|m|h|d)$")


def env_file_path() -> Path:
    """The `.env` in use: LAKEHOUSE_ENV_FILE, or `.env` at the checkout's root."""
    return Path(os.environ.get("LAKEHOUSE_ENV_FILE", REPO_ROOT / ".env"))


def load_dotenv(path: Path | None = None) -> None:
    """Copy `KEY=value` lines of `.env` into os.environ without overriding what is already set."""
    path = path or env_file_path()
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def refuse_placeholders(environ: dict[str, str] | None = None) -> None:
    """Stop when a setting still holds `<generate>` (e.g. `.env.example` copied by hand): it is no secret.

    The message names the keys, never their values.
    """
    environ = os.environ if environ is None else environ
    keys = sorted(k for k, v in environ.items() if v.strip().strip("'\"") == PLACEHOLDER)
    if keys:
        raise SystemExit(
            f"{', '.join(keys)} still {'holds' if len(keys) == 1 else 'hold'} the placeholder {PLACEHOLDER} "
            f"(in {env_file_path()} or the environment): put a real secret there, or delete the line and run "
            "`python -m devtools.stack up` to generate one"
        )


def _text(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _duration(name: str, default: str) -> str:
    raw = os.environ.get(name, default).strip()
    if not DURATION.match(raw):
        raise SystemExit(f"setting {name}={raw!r} is not a duration such as 7d, 12h or 0s")
    return raw


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"setting {name}={raw!r} is not an integer") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"setting {name}={raw!r} is not a number") from None


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "y")


def _seconds(name: str, default: int) -> timedelta:
    return timedelta(seconds=_int(name, default))


def _path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


def _date(name: str, default: str) -> datetime:
    raw = os.environ.get(name, default)
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
    except ValueError:
        raise SystemExit(f"setting {name}={raw!r} is not a date such as 2026-11-01") from None


def env_field(name: str, default, read=_text, secret: bool = False):
    """A field read from the environment variable `name` whenever a Settings is built; the name is kept in the
    field's metadata, so `env_keys()` lists every variable the settings read."""
    return field(default_factory=lambda: read(name, default), repr=not secret,
                 metadata={"env": name, "default": default})


@dataclass(frozen=True)
class PipelineSettings:
    """The pipeline and maintenance DAGs: schedule, retries, sensors and the Airflow connections they use."""

    dag_id: str = "lakehouse_pipeline"
    maintenance_dag_id: str = "lakehouse_maintenance"
    start_date: datetime = env_field("LAKEHOUSE_START_DATE", "2026-11-01", _date)
    catchup: bool = env_field("LAKEHOUSE_CATCHUP", False, _bool)
    owner: str = env_field("LAKEHOUSE_OWNER", "data-platform")
    retries: int = env_field("LAKEHOUSE_RETRIES", 2, _int)
    retry_delay: timedelta = env_field("LAKEHOUSE_RETRY_DELAY_SECONDS", 30, _seconds)
    max_retry_delay: timedelta = timedelta(minutes=10)
    # Airflow connection ids; locally the stack creates them as AIRFLOW_CONN_* variables.
    aws_conn_id: str = env_field("LAKEHOUSE_AWS_CONN_ID", "aws_lakehouse")
    trino_conn_id: str = env_field("LAKEHOUSE_TRINO_CONN_ID", "trino_lakehouse")
    slack_conn_id: str = env_field("LAKEHOUSE_SLACK_CONN_ID", "slack_alerts")
    # Transactions arrive every day: waiting longer than this fails the run (and alerts).
    transactions_timeout: timedelta = env_field("LAKEHOUSE_TRANSACTIONS_TIMEOUT_SECONDS", 6 * 3600, _seconds)
    # Assets and clients may skip a day: after this the sensor skips and the run builds on what is loaded.
    optional_source_timeout: timedelta = env_field("LAKEHOUSE_OPTIONAL_SOURCE_TIMEOUT_SECONDS", 1800, _seconds)
    # How often a waiting sensor's trigger lists the landing partition (in the triggerer; no worker slot is held).
    poke_interval: timedelta = env_field("LAKEHOUSE_POKE_INTERVAL_SECONDS", 60, _seconds)
    # Snapshots and orphan files younger than this survive the weekly maintenance (Trino's own floor may be higher).
    maintenance_retention: str = env_field("LAKEHOUSE_MAINTENANCE_RETENTION", "7d")


@dataclass(frozen=True)
class DbtSettings:
    """How Cosmos runs the dbt project."""

    project_dir: Path = REPO_ROOT / "dbt" / "lakehouse"
    executable: str = env_field("DBT_EXECUTABLE", "dbt")
    # How dbt authenticates to Trino: none (local HTTP), ldap (password over HTTPS), jwt, or galaxy.
    trino_auth: str = env_field("LAKEHOUSE_TRINO_AUTH", "none")
    # Threads of the one `dbt build` (Cosmos WATCHER producer) and of per-model retries. Trino does the work, so
    # this is how many queries Trino runs at once; measured on 2 cores in docs/benchmarks.md.
    threads: int = env_field("LAKEHOUSE_DBT_THREADS", 4, _int)
    # How often a model's watcher (a deferred sensor in the triggerer) checks whether the producer built its model.
    watch_interval: timedelta = env_field("LAKEHOUSE_DBT_WATCH_INTERVAL_SECONDS", 2, _seconds)
    # A failed model or test task retries by running its model (or tests) alone, which is cheap, and the tasks below
    # it in the graph each take one retry after an outage: short first delays, more of them (10, 20, 40 s, with
    # Airflow's jitter up to double) still ride out a minute or two of Trino being away.
    retries: int = env_field("LAKEHOUSE_DBT_RETRIES", 3, _int)
    retry_delay: timedelta = env_field("LAKEHOUSE_DBT_RETRY_DELAY_SECONDS", 10, _seconds)
    # Where each dbt task keeps its run results for the main job's report; empty keeps none.
    results_dir: str = env_field("LAKEHOUSE_DBT_RESULTS_DIR", "")
    # dbt docs (manifest, catalog from Trino, index.html), published after each run's dbt build where the Airflow
    # api-server reads them for Cosmos's docs view (Browse > dbt Docs). A local folder when every Airflow process
    # shares a disk (the local stack), else an s3:// folder read and written with `docs_conn_id`. Empty: no docs.
    docs_dir: str = env_field("LAKEHOUSE_DBT_DOCS_DIR", "")
    docs_conn_id: str = env_field("LAKEHOUSE_DBT_DOCS_CONN_ID", "")

    @property
    def manifest(self) -> Path:
        return self.project_dir / "target" / "manifest.json"


@dataclass(frozen=True)
class AlertSettings:
    """Slack alerts: how much one message lists, when rejected rows alert, and how hard a message is pushed."""

    cap: int = env_field("LAKEHOUSE_ALERT_CAP", 20, _int)
    # The schema (in TRINO_CATALOG) of the alert ledger, the record of every alert Slack accepted.
    ledger_schema: str = env_field("LAKEHOUSE_ALERT_LEDGER_SCHEMA", "ops")
    rejected_rows_threshold: int = env_field("LAKEHOUSE_REJECTED_ROWS_THRESHOLD", 0, _int)
    attempts: int = env_field("LAKEHOUSE_ALERT_ATTEMPTS", 5, _int)
    max_retry_after: float = env_field("LAKEHOUSE_ALERT_MAX_RETRY_AFTER", 60.0, _float)
    # Where failure notices wait while the webhook is down (s3:// or file://); empty: the defaults in
    # include/alerts/outbox.py (under the warehouse bucket, then under LAKEHOUSE_HOME).
    outbox: str = env_field("LAKEHOUSE_ALERT_OUTBOX", "")
    outbox_fallback: str = env_field("LAKEHOUSE_ALERT_OUTBOX_FALLBACK", "")


@dataclass(frozen=True)
class IngestSettings:
    """The loader: its limits on one landing file (past them it is quarantined `too_large`), and how far back a
    day's run looks for late files."""

    max_file_bytes: int = env_field("LAKEHOUSE_MAX_FILE_BYTES", 4 << 30, _int)
    max_file_rows: int = env_field("LAKEHOUSE_MAX_FILE_ROWS", 50_000_000, _int)
    # Days before its own that a day's ingest lists for late files (include/ingestion/listing.py).
    lookback_days: int = env_field("LAKEHOUSE_INGEST_LOOKBACK_DAYS", 7, _int)


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration; build it with `get_settings()` and pass it on."""

    home: Path = env_field("LAKEHOUSE_HOME", str(REPO_ROOT / ".lakehouse"), _path)
    cache: Path = env_field("LAKEHOUSE_CACHE", str(Path.home() / ".cache" / "lakehouse"), _path)
    bind_host: str = env_field("LAKEHOUSE_BIND_HOST", "127.0.0.1")

    # PostgreSQL: the Iceberg JDBC catalog database and the Airflow metadata database.
    pg_host: str = env_field("LAKEHOUSE_PG_HOST", "127.0.0.1")
    pg_port: int = env_field("LAKEHOUSE_PG_PORT", 55432, _int)
    pg_user: str = env_field("LAKEHOUSE_PG_USER", "lakehouse")
    pg_password: str = env_field("LAKEHOUSE_PG_PASSWORD", "", secret=True)
    pg_catalog_db: str = env_field("LAKEHOUSE_PG_CATALOG_DB", "iceberg_catalog")
    pg_airflow_db: str = env_field("LAKEHOUSE_PG_AIRFLOW_DB", "airflow")

    # S3 API: the local store, or AWS when S3_ENDPOINT_URL is empty.
    s3_endpoint_url: str = env_field("S3_ENDPOINT_URL", "http://127.0.0.1:59000")
    s3_region: str = env_field("AWS_REGION", "us-east-1")
    s3_access_key: str = env_field("AWS_ACCESS_KEY_ID", "", secret=True)
    s3_secret_key: str = env_field("AWS_SECRET_ACCESS_KEY", "", secret=True)
    landing_bucket: str = env_field("LANDING_BUCKET", "landing")
    warehouse_bucket: str = env_field("WAREHOUSE_BUCKET", "warehouse")
    quarantine_bucket: str = env_field("QUARANTINE_BUCKET", "quarantine")

    # Trino: local single node, a Trino cluster or Starburst Galaxy.
    trino_host: str = env_field("TRINO_HOST", "127.0.0.1")
    trino_port: int = env_field("TRINO_PORT", 58080, _int)
    trino_http_scheme: str = env_field("TRINO_HTTP_SCHEME", "http")
    trino_user: str = env_field("TRINO_USER", "lakehouse")
    trino_password: str = env_field("TRINO_PASSWORD", "", secret=True)
    # The lakehouse's catalog in Trino: every query, the dbt profile and the Assets name it from here.
    trino_catalog: str = env_field("TRINO_CATALOG", "iceberg")
    trino_heap: str = env_field("TRINO_HEAP", "6G")
    # Local stack only: 0 runs one Trino node; N runs a coordinator and N workers of TRINO_WORKER_HEAP each.
    trino_workers: int = env_field("LAKEHOUSE_TRINO_WORKERS", 0, _int)
    trino_worker_heap: str = env_field("TRINO_WORKER_HEAP", "1G")
    trino_version: str = env_field("TRINO_VERSION", "476")
    raw_schema: str = env_field("RAW_SCHEMA", "lakehouse")
    # The catalog's floor for `expire_snapshots` and `remove_orphan_files` (Trino's own default is 7d). A session
    # can lower it for itself with `SET SESSION <catalog>.expire_snapshots_min_retention = '0s'` (tests do).
    iceberg_min_retention: str = env_field("LAKEHOUSE_ICEBERG_MIN_RETENTION", "7d", _duration)

    # The Iceberg catalog the loader writes through (pyiceberg); Trino's catalog must be the same one.
    iceberg_catalog_name: str = env_field("ICEBERG_CATALOG_NAME", "iceberg")

    # s3proxy: the local S3-compatible store.
    s3proxy_version: str = env_field("S3PROXY_VERSION", "4.1.0")

    # The loopback Slack-compatible webhook receiver and Airflow.
    webhook_port: int = env_field("LAKEHOUSE_WEBHOOK_PORT", 58099, _int)
    airflow_port: int = env_field("AIRFLOW_PORT", 8080, _int)
    airflow_fernet_key: str = env_field("AIRFLOW_FERNET_KEY", "", secret=True)
    airflow_jwt_secret: str = env_field("AIRFLOW_JWT_SECRET", "", secret=True)
    airflow_api_secret_key: str = env_field("AIRFLOW_API_SECRET_KEY", "", secret=True)
    # The local Airflow's one user (SimpleAuthManager): the UI login and the REST API's token request.
    airflow_admin_user: str = env_field("AIRFLOW_ADMIN_USER", "admin")
    airflow_admin_password: str = env_field("AIRFLOW_ADMIN_PASSWORD", "", secret=True)
    slack_webhook_url: str = env_field("SLACK_WEBHOOK_URL", "", secret=True)

    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    dbt: DbtSettings = field(default_factory=DbtSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)

    @property
    def s3_endpoint_host_port(self) -> tuple[str, int]:
        from urllib.parse import urlparse

        parsed = urlparse(self.s3_endpoint_url)
        return parsed.hostname or "127.0.0.1", parsed.port or (443 if parsed.scheme == "https" else 80)

    def pg_sqlalchemy_url(self, database: str) -> str:
        """A SQLAlchemy URL for one of the stack's databases; user and password are escaped (`@:/%#?` are legal)."""
        return (
            f"postgresql+psycopg2://{quote(self.pg_user, safe='')}:{quote(self.pg_password, safe='')}"
            f"@{self.pg_host}:{self.pg_port}/{quote(database, safe='')}"
        )

    @property
    def catalog_sqlalchemy_url(self) -> str:
        return self.pg_sqlalchemy_url(self.pg_catalog_db)

    @property
    def warehouse_uri(self) -> str:
        return f"s3://{self.warehouse_bucket}/"

    def iceberg_catalog_properties(self) -> dict[str, str]:
        """Properties for pyiceberg's `load_catalog`.

        With no override the loader uses the same PostgreSQL tables as Trino's JDBC catalog.
        `PYICEBERG_CATALOG__<NAME>__*` variables (pyiceberg's own convention) replace them, e.g. for Glue or REST.
        """
        prefix = f"PYICEBERG_CATALOG__{self.iceberg_catalog_name.upper()}__"
        if any(key.startswith(prefix) for key in os.environ):
            return {}
        props = {
            "type": "sql",
            "uri": self.catalog_sqlalchemy_url,
            "warehouse": self.warehouse_uri,
            "s3.region": self.s3_region,
            "s3.access-key-id": self.s3_access_key,
            "s3.secret-access-key": self.s3_secret_key,
        }
        if self.s3_endpoint_url:
            props["s3.endpoint"] = self.s3_endpoint_url
            props["s3.force-virtual-addressing"] = "false"
        return props

    def boto3_kwargs(self) -> dict[str, str]:
        kwargs = {"region_name": self.s3_region}
        if self.s3_endpoint_url:
            kwargs["endpoint_url"] = self.s3_endpoint_url
        if self.s3_access_key:
            kwargs["aws_access_key_id"] = self.s3_access_key
            kwargs["aws_secret_access_key"] = self.s3_secret_key
        return kwargs


def get_settings() -> Settings:
    """Read `.env` (without overriding the environment) and build the settings: call it once per process or task
    and pass the result on."""
    load_dotenv()
    refuse_placeholders()
    return Settings()


def env_keys(cls: type = Settings) -> dict[str, str]:
    """Every environment variable the settings read, mapped to its field's dotted path (e.g. `dbt.threads`)."""
    keys: dict[str, str] = {}
    for f in fields(cls):
        if "env" in f.metadata:
            keys[f.metadata["env"]] = f.name
        elif is_dataclass(f.type) or (isinstance(f.default_factory, type) and is_dataclass(f.default_factory)):
            keys.update({var: f"{f.name}.{path}" for var, path in env_keys(f.default_factory).items()})
    return keys


def s3_client(settings: Settings | None = None):
    """A boto3 S3 client for the configured endpoint (path-style, as local stores need)."""
    import boto3
    from botocore.config import Config

    settings = settings or get_settings()
    return boto3.client(
        "s3",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}),
        **settings.boto3_kwargs(),
    )


def trino_connection(settings: Settings | None = None, schema: str | None = None):
    """A DB-API connection to Trino; basic auth over HTTPS when TRINO_PASSWORD is set."""
    import trino

    settings = settings or get_settings()
    auth = None
    if settings.trino_password:
        auth = trino.auth.BasicAuthentication(settings.trino_user, settings.trino_password)
    return trino.dbapi.connect(
        host=settings.trino_host,
        port=settings.trino_port,
        user=settings.trino_user,
        http_scheme=settings.trino_http_scheme,
        auth=auth,
        catalog=settings.trino_catalog,
        schema=schema or settings.raw_schema,
    )
