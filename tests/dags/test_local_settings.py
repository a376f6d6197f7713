"""plugins/airflow_local_settings.py preloads the task libraries in the processes that fork tasks, and only there."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
sys.argv = ["airflow", *{command!r}]
import airflow  # runs airflow_local_settings
print(",".join(m for m in ("cosmos.operators.watcher", "cosmos.profiles", "boto3", "include.pipeline.dbt")
               if m in sys.modules))
"""


def _preloaded(command: list[str], **env: str) -> tuple[list[str], str]:
    result = subprocess.run([sys.executable, "-c", PROBE.format(command=command)], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=120, check=True)
    return result.stdout.strip().splitlines()[-1].split(",") if result.stdout.strip() else [], result.stderr


def test_the_scheduler_preloads_cosmos_and_the_asset_uri_handlers_but_not_the_project():
    modules, stderr = _preloaded(["scheduler"])
    assert "preload stopped" not in stderr
    # boto3 comes with the Amazon provider's S3 Asset URI handler; the project's own modules stay fresh per task.
    assert modules == ["cosmos.operators.watcher", "cosmos.profiles", "boto3"]


def test_other_commands_and_an_opt_out_do_not_preload():
    assert _preloaded(["dags", "list"])[0] == []
    assert _preloaded(["scheduler"], LAKEHOUSE_PRELOAD="0")[0] == []
