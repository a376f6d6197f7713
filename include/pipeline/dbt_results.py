"""Keep each dbt task's run_results.json (statuses only) so the main job can report tests passed and failed.

Enabled by LAKEHOUSE_DBT_RESULTS_DIR (`Settings.dbt.results_dir`); Cosmos calls `save_run_results` after every
dbt invocation, before it raises for failures, so failing tests are recorded too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save_run_results(project_dir: str, context: dict | None = None, **_: Any) -> None:
    from include.settings import DbtSettings

    # Cosmos names this callback by its import path and passes no settings: the task's own environment is read.
    target = DbtSettings().results_dir
    source = Path(project_dir) / "target" / "run_results.json"
    if not target or not context or not source.is_file():
        return
    ti = context["ti"]
    results = json.loads(source.read_text())["results"]
    slim = [{"unique_id": r["unique_id"], "status": r["status"], "failures": r.get("failures")} for r in results]
    out = Path(target) / context["dag_run"].run_id.replace("/", "_") / f"{ti.task_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The latest try wins: a retried test task overwrites its earlier result.
    out.write_text(json.dumps({"task_id": ti.task_id, "try_number": ti.try_number, "results": slim}))


def summarise(results_dir: Path) -> dict[str, int]:
    """Counts of dbt test and model statuses across every recorded task of every run."""
    counts: dict[str, int] = {}
    for path in sorted(results_dir.glob("*/*.json")):
        for result in json.loads(path.read_text())["results"]:
            kind = "test" if result["unique_id"].startswith(("test.", "unit_test.")) else "model"
            key = f"{kind}_{result['status']}"
            counts[key] = counts.get(key, 0) + 1
    return counts
