"""Every endpoint and credential the project uses, read from the environment (and `.env`) in one place.

Local defaults point at the loopback stack that `python -m devtools.stack up` starts. Production
(AWS S3, a Glue or REST Iceberg catalog, Starburst Galaxy) is reached by setting the same variables:
see `.env.example` and `docs/deploy.md`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("assets", "clients", "transactions")
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


def _env(name: str, default: str) -> str:
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


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration; build it with `get_settings()`."""

    home: Path = field(default_factory=lambda: Path(_env("LAKEHOUSE_HOME", str(REPO_ROOT / ".lakehouse"))))
    cache: Path = field(
        default_factory=lambda: Path(_env("LAKEHOUSE_CACHE", str(Path.home() / ".cache" / "lakehouse")))
    )
    bind_host: str = field(default_factory=lambda: _env("LAKEHOUSE_BIND_HOST", "127.0.0.1"))

    # PostgreSQL: the Iceberg JDBC catalog database and the Airflow metadata database.
    pg_host: str = field(default_factory=lambda: _env("LAKEHOUSE_PG_HOST", "127.0.0.1"))
    pg_port: int = field(default_factory=lambda: _int("LAKEHOUSE_PG_PORT", 55432))
    pg_user: str = field(default_factory=lambda: _env("LAKEHOUSE_PG_USER", "lakehouse"))
    pg_password: str = field(default_factory=lambda: _env("LAKEHOUSE_PG_PASSWORD", ""), repr=False)
    pg_catalog_db: str = field(default_factory=lambda: _env("LAKEHOUSE_PG_CATALOG_DB", "iceberg_catalog"))
    pg_airflow_db: str = field(default_factory=lambda: _env("LAKEHOUSE_PG_AIRFLOW_DB", "airflow"))

    # S3 API: the local store, or AWS when S3_ENDPOINT_URL is empty.
    s3_endpoint_url: str = field(default_factory=lambda: _env("S3_ENDPOINT_URL", "http://127.0.0.1:59000"))
    s3_region: str = field(default_factory=lambda: _env("AWS_REGION", "us-east-1"))
    s3_access_key: str = field(default_factory=lambda: _env("AWS_ACCESS_KEY_ID", ""), repr=False)
    s3_secret_key: str = field(default_factory=lambda: _env("AWS_SECRET_ACCESS_KEY", ""), repr=False)
    landing_bucket: str = field(default_factory=lambda: _env("LANDING_BUCKET", "landing"))
    warehouse_bucket: str = field(default_factory=lambda: _env("WAREHOUSE_BUCKET", "warehouse"))
    quarantine_bucket: str = field(default_factory=lambda: _env("QUARANTINE_BUCKET", "quarantine"))

    # Trino: local single node, a Trino cluster or Starburst Galaxy.
    trino_host: str = field(default_factory=lambda: _env("TRINO_HOST", "127.0.0.1"))
    trino_port: int = field(default_factory=lambda: _int("TRINO_PORT", 58080))
    trino_http_scheme: str = field(default_factory=lambda: _env("TRINO_HTTP_SCHEME", "http"))
    trino_user: str = field(default_factory=lambda: _env("TRINO_USER", "lakehouse"))
    trino_password: str = field(default_factory=lambda: _env("TRINO_PASSWORD", ""), repr=False)
    trino_catalog: str = field(default_factory=lambda: _env("TRINO_CATALOG", "iceberg"))
    trino_heap: str = field(default_factory=lambda: _env("TRINO_HEAP", "6G"))
    # Local stack only: 0 runs one Trino node; N runs a coordinator and N workers of TRINO_WORKER_HEAP each.
    trino_workers: int = field(default_factory=lambda: _int("LAKEHOUSE_TRINO_WORKERS", 0))
    trino_worker_heap: str = field(default_factory=lambda: _env("TRINO_WORKER_HEAP", "1G"))
    trino_version: str = field(default_factory=lambda: _env("TRINO_VERSION", "476"))
    raw_schema: str = field(default_factory=lambda: _env("RAW_SCHEMA", "lakehouse"))
    # Days before its own that a day's ingest lists for late files (include/ingestion/listing.py).
    ingest_lookback_days: int = field(default_factory=lambda: _int("LAKEHOUSE_INGEST_LOOKBACK_DAYS", 7))
    # The catalog's floor for `expire_snapshots` and `remove_orphan_files` (Trino's own default is 7d). A session
    # can lower it for itself with `SET SESSION <catalog>.expire_snapshots_min_retention = '0s'` (tests do).
    iceberg_min_retention: str = field(default_factory=lambda: _duration("LAKEHOUSE_ICEBERG_MIN_RETENTION", "7d"))

    # The Iceberg catalog the loader writes through (pyiceberg); Trino's catalog must be the same one.
    iceberg_catalog_name: str = field(default_factory=lambda: _env("ICEBERG_CATALOG_NAME", "iceberg"))

    # s3proxy: the local S3-compatible store.
    s3proxy_version: str = field(default_factory=lambda: _env("S3PROXY_VERSION", "4.1.0"))

    # The loopback Slack-compatible webhook receiver and Airflow.
    webhook_port: int = field(default_factory=lambda: _int("LAKEHOUSE_WEBHOOK_PORT", 58099))
    airflow_port: int = field(default_factory=lambda: _int("AIRFLOW_PORT", 8080))
    airflow_fernet_key: str = field(default_factory=lambda: _env("AIRFLOW_FERNET_KEY", ""), repr=False)
    airflow_jwt_secret: str = field(default_factory=lambda: _env("AIRFLOW_JWT_SECRET", ""), repr=False)
    airflow_api_secret_key: str = field(default_factory=lambda: _env("AIRFLOW_API_SECRET_KEY", ""), repr=False)
    # The local Airflow's one user (SimpleAuthManager): the UI login and the REST API's token request.
    airflow_admin_user: str = field(default_factory=lambda: _env("AIRFLOW_ADMIN_USER", "admin"))
    airflow_admin_password: str = field(default_factory=lambda: _env("AIRFLOW_ADMIN_PASSWORD", ""), repr=False)
    slack_webhook_url: str = field(default_factory=lambda: _env("SLACK_WEBHOOK_URL", ""), repr=False)

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
    load_dotenv()
    refuse_placeholders()
    return Settings()


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
