"""Keep each dbt invocation's node results: in XCom for the Asset events' metadata, and for the main job's report.

Cosmos calls `save_run_results` after every dbt invocation (the producer's build, and a retried model or test task
running its model alone), before it raises for failures, so failing tests are recorded too. The results go to the
task's XCom (include/pipeline/asset_metadata.py reads a retry's own results there) and, when
LAKEHOUSE_DBT_RESULTS_DIR (`Settings.dbt.results_dir`) is set, to a file per task that the main job counts tests
passed and failed from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.pipeline.asset_metadata import RESULTS_XCOM_KEY


def save_run_results(project_dir: str, context: dict | None = None, **_: Any) -> None:
    source = Path(project_dir) / "target" / "run_results.json"
    if not context or not source.is_file():
        return
    ti = context["ti"]
    results = json.loads(source.read_text())["results"]
    slim = [{"unique_id": r["unique_id"], "status": r["status"], "failures": r.get("failures"),
             "rows_affected": (r.get("adapter_response") or {}).get("rows_affected")} for r in results]
    ti.xcom_push(key=RESULTS_XCOM_KEY, value=slim)
    from include.settings import DbtSettings

    # Cosmos names this callback by its import path and passes no settings: the task's own environment is read.
    target = DbtSettings().results_dir
    if not target:
        return
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
