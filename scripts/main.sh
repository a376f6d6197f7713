#!/usr/bin/env bash
# The main job: set up, bring the local lakehouse up (PostgreSQL, s3proxy, Trino, Airflow, alert receiver),
# generate a few days of landing data, run the pipeline DAG for each day through Airflow, print a report.
# Extra arguments go to the job, e.g. ./scripts/main.sh --days 5 --transactions-per-day 20000
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
.venv/bin/python -m include.stack up
.venv/bin/python -m include.smoke
.venv/bin/python -m include.main_job "$@"
