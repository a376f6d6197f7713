"""Airflow local settings: the processes that fork tasks preload the libraries every task of the pipeline imports.

Airflow imports this module at start-up in each of its processes (the plugins folder is on its path). A
LocalExecutor worker is forked from the scheduler, each task process is forked from a worker, and each task parses
the DAG file again: Cosmos with its operators and profiles, Airflow's decorators and timetables and, at the first
Asset with a provider's URI scheme (`trino://`), every provider's Asset URI handler, which imports boto3 through the
Amazon provider's S3 hook. That took 0.87 CPU-s of each task process's parse (0.17 s once preloaded), and a run
has a process per task and a second per task that deferred, on the 2 cores Trino needs (docs/benchmarks.md).
Imported here, before the fork, it is done once. The dag-processor (a process per parse) and the triggerer
preload the same.

Only third-party modules: the project's own (`include/`) are imported fresh by each task, so an edit to them
takes effect without a restart, as before. Set LAKEHOUSE_PRELOAD=0 to turn preloading off.
"""

from __future__ import annotations

import importlib
import os
import sys

# `airflow scheduler` (LocalExecutor workers), `airflow dag-processor`, `airflow triggerer`, `airflow celery worker`.
PRELOADING_COMMANDS = {"scheduler", "dag-processor", "triggerer", "celery"}

MODULES = (
    "cosmos",
    "cosmos.airflow.task_group",
    "cosmos.converter",
    "cosmos.operators.local",
    "cosmos.operators.watcher",
    "cosmos.profiles",
    "airflow.dag_processing.dagbag",
    "airflow.providers.standard.decorators.python",
    "airflow.sdk.definitions.decorators",
    "airflow.serialization.serialized_objects",
    "airflow.timetables.interval",
)


def preload() -> None:
    for name in MODULES:
        importlib.import_module(name)
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    ProvidersManagerTaskRuntime().asset_uri_handlers  # noqa: B018  discovered, and their modules imported, once


if len(sys.argv) > 1 and sys.argv[1] in PRELOADING_COMMANDS and os.environ.get("LAKEHOUSE_PRELOAD", "1") != "0":
    try:
        preload()
    except Exception as error:  # a slower task start, not a reason to stop the scheduler
        print(f"airflow_local_settings: preload stopped: {error!r}", file=sys.stderr)
