#!/usr/bin/env bash
# The main job: set up, bring the local lakehouse up (PostgreSQL, s3proxy, Trino, Airflow, alert receiver),
# generate the last few complete days of landing data, backfill them through Airflow's scheduler (REST API v2),
# follow the runs, print a report. The DAG stays on afterwards and carries on daily (docs/running.md).
# Extra arguments go to the job, e.g. ./scripts/main.sh --days 5 --transactions-per-day 20000
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
.venv/bin/python -m devtools.stack up
.venv/bin/python -m devtools.smoke
.venv/bin/python -m devtools.main_job "$@"
