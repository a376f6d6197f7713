#!/usr/bin/env bash
# Set up, start the local stack, run every test against it, and stop the stack again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
trap '.venv/bin/python -m devtools.stack down || true' EXIT
.venv/bin/python -m devtools.stack up
.venv/bin/python -m pytest "$@"
