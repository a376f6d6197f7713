#!/usr/bin/env bash
# The main job: set up, bring the local lakehouse up and prove it answers SQL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
.venv/bin/python -m include.stack up
.venv/bin/python -m include.stack status
.venv/bin/python -m include.smoke
