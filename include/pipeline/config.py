"""Settings of the pipeline DAG, from the environment so one package serves local, Astro and Kubernetes."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from include.settings import REPO_ROOT, load_dotenv

load_dotenv()


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "y")


def _seconds(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DAG_ID = "lakehouse_pipeline"
START_DATE = datetime.fromisoformat(os.environ.get("LAKEHOUSE_START_DATE", "2026-11-01")).replace(tzinfo=timezone.utc)
CATCHUP = _bool("LAKEHOUSE_CATCHUP", False)
OWNER = os.environ.get("LAKEHOUSE_OWNER", "data-platform")
RETRIES = int(os.environ.get("LAKEHOUSE_RETRIES", 2))
RETRY_DELAY = timedelta(seconds=_seconds("LAKEHOUSE_RETRY_DELAY_SECONDS", 30))
MAX_RETRY_DELAY = timedelta(minutes=10)

# Connections (Airflow connection ids); locally the stack creates them as AIRFLOW_CONN_* variables.
AWS_CONN_ID = os.environ.get("LAKEHOUSE_AWS_CONN_ID", "aws_lakehouse")
TRINO_CONN_ID = os.environ.get("LAKEHOUSE_TRINO_CONN_ID", "trino_lakehouse")
SLACK_CONN_ID = os.environ.get("LAKEHOUSE_SLACK_CONN_ID", "slack_alerts")
# How dbt authenticates to Trino: none (local HTTP), ldap (password over HTTPS) or jwt (Starburst Galaxy).
TRINO_AUTH = os.environ.get("LAKEHOUSE_TRINO_AUTH", "none")
TRINO_CATALOG = os.environ.get("TRINO_CATALOG", "iceberg")

LANDING_BUCKET = os.environ.get("LANDING_BUCKET", "landing")
RAW_SCHEMA = os.environ.get("RAW_SCHEMA", "lakehouse")
SOURCES = ("assets", "clients", "transactions")
# Transactions arrive every day: waiting longer than this fails the run (and alerts).
TRANSACTIONS_TIMEOUT = timedelta(seconds=_seconds("LAKEHOUSE_TRANSACTIONS_TIMEOUT_SECONDS", 6 * 3600))
# Assets and clients may skip a day: after this the sensor skips and the run builds on what is loaded.
OPTIONAL_SOURCE_TIMEOUT = timedelta(seconds=_seconds("LAKEHOUSE_OPTIONAL_SOURCE_TIMEOUT_SECONDS", 1800))
# How often a waiting sensor's trigger lists the landing partition (in the triggerer; no worker slot is held).
POKE_INTERVAL = timedelta(seconds=_seconds("LAKEHOUSE_POKE_INTERVAL_SECONDS", 60))
DBT_PROJECT_DIR = REPO_ROOT / "dbt" / "lakehouse"
DBT_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_EXECUTABLE = os.environ.get("DBT_EXECUTABLE", "dbt")
# dbt threads of the one `dbt build` (Cosmos WATCHER producer) and of per-model retries. Trino does the work, so
# this is how many queries Trino runs at once; measured on 2 cores in docs/benchmarks.md.
DBT_THREADS = int(os.environ.get("LAKEHOUSE_DBT_THREADS", 4))
# How often a model's watcher (a deferred sensor in the triggerer) checks whether the producer built its model.
DBT_WATCH_INTERVAL = timedelta(seconds=_seconds("LAKEHOUSE_DBT_WATCH_INTERVAL_SECONDS", 2))
# A failed model or test task retries by running its model (or tests) alone, which is cheap, and the tasks below
# it in the graph each take one retry after an outage: short first delays, more of them (10, 20, 40 s, with
# Airflow's jitter up to double) still ride out a minute or two of Trino being away.
DBT_RETRIES = int(os.environ.get("LAKEHOUSE_DBT_RETRIES", 3))
DBT_RETRY_DELAY = timedelta(seconds=_seconds("LAKEHOUSE_DBT_RETRY_DELAY_SECONDS", 10))

ALERT_CAP = int(os.environ.get("LAKEHOUSE_ALERT_CAP", 20))
REJECTED_ROWS_THRESHOLD = int(os.environ.get("LAKEHOUSE_REJECTED_ROWS_THRESHOLD", 0))

# dbt docs (manifest, catalog from Trino, index.html), published after each run's dbt build where the Airflow
# api-server reads them for Cosmos's docs view (Browse > dbt Docs). A local folder when every Airflow process shares
# a disk (the local stack), else an s3:// folder read and written with DBT_DOCS_CONN_ID. Empty: no docs are made.
DBT_DOCS_DIR = os.environ.get("LAKEHOUSE_DBT_DOCS_DIR", "")
DBT_DOCS_CONN_ID = os.environ.get("LAKEHOUSE_DBT_DOCS_CONN_ID", "") or None
