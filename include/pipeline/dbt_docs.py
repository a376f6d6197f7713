"""dbt docs for the Airflow UI: a `dbt docs generate` task after the dbt build, and where Cosmos's plugin finds them.

The task publishes index.html, manifest.json and catalog.json (read from Trino) to LAKEHOUSE_DBT_DOCS_DIR, a local
folder or an s3:// folder; the api-server serves that folder through Cosmos's Airflow 3.1+ plugin, configured by
`[cosmos] dbt_docs_projects` (`dbt_docs_projects` below), as "dbt Docs (lakehouse)" under Browse.

The docs describe the project and the tables' columns, not the day's rows: a run whose project and tables are those
of the published docs skips the task (see `fingerprint`). Generating them took 18 s at the end of every run,
after the alerts.
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
# Published beside them: what they were generated from (`fingerprint`).
FINGERPRINT = "fingerprint.txt"


def dbt_docs_projects(docs_dir: str, conn_id: str | None = None) -> str:
    """The value of `[cosmos] dbt_docs_projects` (AIRFLOW__COSMOS__DBT_DOCS_PROJECTS) for the api-server."""
    project: dict[str, Any] = {"dir": docs_dir, "index": "index.html", "name": NAME}
    if conn_id:
        project["conn_id"] = conn_id
    return json.dumps({SLUG: project})


def docs_task(settings: Settings, **kwargs: Any):
    """Cosmos's `dbt docs generate` operator, publishing to LAKEHOUSE_DBT_DOCS_DIR (see `publish`).

    It runs once the dbt build is done, whatever models failed (docs of what is there), only if something was
    built, and skips when the project and its tables are those of the published docs. The docs are not part of the
    data contract, so no data task waits on this one: a failure alerts through the usual failure notifier and marks
    the run failed, but the data alerts run regardless.
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
        pre_execute=skip_when_current,
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
    # The fingerprint goes last: a publish cut short leaves the old one, so the next run publishes again.
    bodies[FINGERPRINT] = fingerprint(settings).encode()
    if docs_dir.startswith("s3://"):
        _publish_s3(bodies, docs_dir, conn_id)
    else:
        _publish_local(bodies, Path(docs_dir))
    log.info("Published the dbt docs (%s) to %s", ", ".join(bodies), docs_dir)


def skip_when_current(context: dict) -> None:
    """pre_execute of the docs task: skip it when the published docs were generated from this project and these
    tables."""
    from airflow.sdk.exceptions import AirflowSkipException

    from include.settings import get_settings

    settings = get_settings()
    if not settings.dbt.docs_dir:
        return
    published = _read_published(settings.dbt.docs_dir, settings.dbt.docs_conn_id or None)
    if published is not None and published == fingerprint(settings):
        raise AirflowSkipException("the published dbt docs are current: same project, same tables in Trino")


def fingerprint(settings, cursor=None) -> str:
    """sha256 of the project's manifest and of the tables of its schemas, as Trino lists them.

    The manifest is rebuilt by `dbt parse` with each change of the project, models, sources (the raw tables'
    contract) and column docs included, so the columns catalog.json reads from Trino change only with it. The table
    listing catches a table the published catalog missed (one not built yet when the docs were generated). It takes
    0.1 s; listing every column took 4.6 s, since Trino opens each Iceberg table's metadata for it. `cursor`: a Trino
    cursor, else one from the Airflow connection.
    """
    import hashlib

    manifest = settings.dbt.manifest.read_bytes()
    schemas = sorted({settings.raw_schema} | {node["schema"] for node in json.loads(manifest)["nodes"].values()
                                              if node["resource_type"] in ("model", "seed", "snapshot")})
    if cursor is None:
        from airflow.providers.trino.hooks.trino import TrinoHook

        cursor = TrinoHook(trino_conn_id=settings.pipeline.trino_conn_id).get_conn().cursor()
    cursor.execute(
        f"select table_schema, table_name, table_type from {settings.trino_catalog}.information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in schemas)}) order by 1, 2",
        schemas,
    )
    digest = hashlib.sha256(manifest)
    for row in cursor.fetchall():
        digest.update("\t".join(map(str, row)).encode() + b"\n")
    return digest.hexdigest()


def _read_published(docs_dir: str, conn_id: str | None) -> str | None:
    if not docs_dir.startswith("s3://"):
        path = Path(docs_dir) / FINGERPRINT
        return path.read_text() if path.exists() else None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = _s3_location(docs_dir, FINGERPRINT)
    hook = S3Hook(aws_conn_id=conn_id)
    return hook.read_key(key, bucket) if hook.check_for_key(key, bucket) else None


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

    hook = S3Hook(aws_conn_id=conn_id)
    kinds = {".html": "text/html", ".json": "application/json", ".txt": "text/plain"}
    for name, body in bodies.items():
        bucket, key = _s3_location(url, name)
        hook.get_conn().put_object(Bucket=bucket, Key=key, Body=body, ContentType=kinds[Path(name).suffix])


def _s3_location(url: str, name: str) -> tuple[str, str]:
    """Bucket and key of the file `name` in the docs folder `url` (s3://bucket[/prefix])."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, f"{prefix.strip('/')}/{name}".lstrip("/")
