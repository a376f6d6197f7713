#!/usr/bin/env bash
# Set up, start the local stack, run every test against it, and stop the stack again.
#   ./scripts/test.sh [pytest args]   e.g. ./scripts/test.sh tests/unit -q
# Two pytest runs: first every test that leaves the services up, modules side by side (LAKEHOUSE_TEST_WORKERS,
# default 2; 0 runs them one at a time), then the fault tests, which stop and kill services, alone.
# LAKEHOUSE_TEST_SLOW=1 also runs the tests marked slow (pytest.ini), which the default leaves out for time.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
trap '.venv/bin/python -m devtools.stack down || true' EXIT
.venv/bin/python -m devtools.stack up

# pytest exits 5 when the arguments select no test of a phase: not a failure. Both phases run even if the first fails.
run_pytest() { .venv/bin/python -m pytest "$@" || { status=$?; [ "$status" -eq 5 ] || return "$status"; }; }
slow=" and not slow"
[ "${LAKEHOUSE_TEST_SLOW:-0}" = 1 ] && slow=""
failed=0
run_pytest -m "not fault$slow" -n "${LAKEHOUSE_TEST_WORKERS:-2}" \
  --no-loadscope-reorder "$@" || failed=$?
run_pytest -m "fault$slow" "$@" || failed=$?
exit "$failed"
