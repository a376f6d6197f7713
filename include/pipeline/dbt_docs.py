"""dbt docs for the Airflow UI: a `dbt docs generate` task after the dbt build, and where Cosmos's plugin finds them.

The task publishes index.html, manifest.json and catalog.json (read from Trino) to LAKEHOUSE_DBT_DOCS_DIR, a local
folder or an s3:// folder; the api-server serves that folder through Cosmos's Airflow 3.1+ plugin, configured by
`[cosmos] dbt_docs_projects` (`dbt_docs_projects` below), as "dbt Docs (lakehouse)" under Browse.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from include.settings import Settings

log = logging.getLogger(__name__)

SLUG = "lakehouse"
NAME = "dbt Docs (lakehouse)"
TASK_ID = "dbt_docs"
# What the docs page loads: index.html fetches the other two from the same folder.
FILES = ("manifest.json", "catalog.json", "index.html")


def dbt_docs_projects(docs_dir: str, conn_id: str | None = None) -> str:
    """The value of `[cosmos] dbt_docs_projects` (AIRFLOW__COSMOS__DBT_DOCS_PROJECTS) for the api-server."""
    project: dict[str, Any] = {"dir": docs_dir, "index": "index.html", "name": NAME}
    if conn_id:
        project["conn_id"] = conn_id
    return json.dumps({SLUG: project})


def docs_task(settings: Settings, **kwargs: Any):
    """Cosmos's `dbt docs generate` operator, publishing to LAKEHOUSE_DBT_DOCS_DIR (see `publish`).

    It runs once the dbt build is done, whatever models failed (docs of what is there), and only if something was
    built. The docs are not part of the data contract, so nothing waits on this task: a failure alerts through the
    usual failure notifier and marks the run failed, but the data alerts run regardless.
    """
    from airflow.sdk import TriggerRule
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtDocsLocalOperator

    from include.pipeline.dbt import profile_config

    dbt = settings.dbt
    return DbtDocsLocalOperator(
        task_id=TASK_ID,
        project_dir=str(dbt.project_dir),
        profile_config=profile_config(settings),
        dbt_executable_path=dbt.executable,
        invocation_mode=InvocationMode.DBT_RUNNER,
        install_deps=False,
        callback=publish,
        trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS,
        doc_md=f"`dbt docs generate` (catalog from Trino), published to `{dbt.docs_dir or '(not set)'}` for the "
               f"UI's Browse > {NAME}.",
        **kwargs,
    )


def publish(project_dir: str, context: dict | None = None, **_: Any) -> None:
    """Cosmos callback: copy the generated docs to LAKEHOUSE_DBT_DOCS_DIR, each file replaced atomically."""
    from include.settings import get_settings

    # Cosmos names this callback by its import path and passes no settings: the task reads its own.
    settings = get_settings()
    docs_dir, conn_id = settings.dbt.docs_dir, settings.dbt.docs_conn_id or None
    if not docs_dir:
        log.warning("LAKEHOUSE_DBT_DOCS_DIR is not set: the dbt docs are generated but not published")
        return
    target = Path(project_dir) / "target"
    bodies = {name: (target / name).read_bytes() for name in FILES}
    refuse_secrets(bodies, [settings.pipeline.trino_conn_id, settings.pipeline.aws_conn_id])
    if docs_dir.startswith("s3://"):
        _publish_s3(bodies, docs_dir, conn_id)
    else:
        _publish_local(bodies, Path(docs_dir))
    log.info("Published the dbt docs (%s) to %s", ", ".join(FILES), docs_dir)


def refuse_secrets(bodies: dict[str, bytes], conn_ids: list[str]) -> None:
    """Fail rather than publish docs holding a password of the connections `conn_ids` (Trino, S3): the docs are
    readable in the UI."""
    from airflow.sdk import BaseHook

    secrets = []
    for conn_id in conn_ids:
        try:
            secrets.append(BaseHook.get_connection(conn_id).password)
        except Exception:  # noqa: BLE001 - a connection this deployment does not define holds no secret here
            continue
    for name, body in bodies.items():
        if any(secret and secret.encode() in body for secret in secrets):
            raise ValueError(f"dbt docs file {name} contains a connection password; not publishing the docs")


def _publish_local(bodies: dict[str, bytes], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        part = folder / f".{name}.part"
        part.write_bytes(body)
        # The api-server may be serving the page right now: it reads the old file or the new one, never half.
        os.replace(part, folder / name)


def _publish_s3(bodies: dict[str, bytes], url: str, conn_id: str | None) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    hook = S3Hook(aws_conn_id=conn_id)
    for name, body in bodies.items():
        kind = "text/html" if name.endswith(".html") else "application/json"
        hook.get_conn().put_object(Bucket=bucket, Key=f"{prefix.strip('/')}/{name}".lstrip("/"), Body=body,
                                   ContentType=kind)
