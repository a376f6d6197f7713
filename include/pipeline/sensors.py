"""One deferrable sensor per source that waits for a real landing file in that day's partition.

A real file is a non-empty object directly under `<source>/dt=<day>/` whose name has a contract extension
(.csv, .csv.gz, .parquet). A zero-byte folder marker such as `transactions/dt=D/`, an empty file or a `_SUCCESS`
flag does not count: "transactions must arrive" means data must arrive.

Why not S3KeySensor(check_fn=...): in deferrable mode its trigger fires as soon as *any* key matches, the worker
then runs check_fn and, when it says no, defers again with a fresh timeout. With only a folder marker present the
sensor would bounce between triggerer and worker every poke interval and never time out. Here the trigger itself
applies the same test, so the task stays `deferred` until a real file arrives or the timeout fails (or skips) it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from include.ingestion.contract import FORMATS
from include.settings import Settings

# Sources that may skip a day; a run without them builds on what is already loaded.
OPTIONAL_SOURCES = ("assets", "clients")
# The landing contract's file types: .csv, .csv.gz, .parquet.
EXTENSIONS = tuple(FORMATS)


def real_files(prefix: str, objects: Iterable[dict]) -> list[str]:
    """Keys of S3 listing entries (`Key`, `Size`) that are real landing files directly under `prefix`."""
    found = []
    for obj in objects:
        key, size = obj.get("Key", ""), obj.get("Size") or 0
        name = key[len(prefix):] if key.startswith(prefix) else ""
        if size > 0 and name and "/" not in name and name.lower().endswith(EXTENSIONS):
            found.append(key)
    return found


class LandingFileTrigger(BaseTrigger):
    """Runs in the triggerer: lists the partition every `poke_interval` seconds until a real file is there."""

    def __init__(self, bucket_name: str, prefix: str, aws_conn_id: str | None, poke_interval: float):
        super().__init__()
        self.bucket_name = bucket_name
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"bucket_name": self.bucket_name, "prefix": self.prefix, "aws_conn_id": self.aws_conn_id,
                 "poke_interval": self.poke_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        try:
            async with await S3Hook(aws_conn_id=self.aws_conn_id).get_async_conn() as client:
                while True:
                    objects = []
                    paginator = client.get_paginator("list_objects_v2")
                    async for page in paginator.paginate(Bucket=self.bucket_name, Prefix=self.prefix, Delimiter="/"):
                        objects += page.get("Contents", [])
                    if keys := real_files(self.prefix, objects):
                        yield TriggerEvent({"status": "success", "keys": keys[:10]})
                        return
                    self.log.info("No landing file under s3://%s/%s yet", self.bucket_name, self.prefix)
                    await asyncio.sleep(self.poke_interval)
        except Exception as exc:  # noqa: BLE001 - reported to the task, which fails and retries
            yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})


class LandingFileSensor(BaseSensorOperator):
    """Succeeds once a real landing file is under `prefix`; checks once on the worker, then waits in the triggerer."""

    template_fields = ("prefix",)

    def __init__(self, *, bucket_name: str, prefix: str, aws_conn_id: str | None, **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id

    def poke(self, context) -> bool:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        objects = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket_name, Prefix=self.prefix,
                                                                       Delimiter="/"):
            objects += page.get("Contents", [])
        keys = real_files(self.prefix, objects)
        self.log.info("Landing files under s3://%s/%s: %s", self.bucket_name, self.prefix, keys[:10] or "none yet")
        return bool(keys)

    def execute(self, context) -> None:
        if self.poke(context):
            return
        # The timeout counts from here; on expiry the sensor fails, or skips when soft_fail is set.
        self.defer(trigger=LandingFileTrigger(self.bucket_name, self.prefix, self.aws_conn_id, self.poke_interval),
                   method_name="execute_complete", timeout=timedelta(seconds=self.timeout))

    def execute_complete(self, context, event: dict[str, Any]) -> None:
        if event.get("status") != "success":
            raise RuntimeError(f"listing s3://{self.bucket_name}/{self.prefix} failed: {event.get('message')}")
        self.log.info("Landing files arrived: %s", event.get("keys"))


def landing_sensor(settings: Settings, source: str) -> LandingFileSensor:
    """Wait for a real file under `<source>/dt=<run day>/`.

    The run for logical date D reads landing day D (`{{ ds }}`): the DAG's cron data-interval timetable starts
    that run once D is over, when the day's files are complete.
    """
    optional, p = source in OPTIONAL_SOURCES, settings.pipeline
    return LandingFileSensor(
        task_id=f"wait_for_{source}",
        bucket_name=settings.landing_bucket,
        prefix=f"{source}/dt={{{{ ds }}}}/",
        aws_conn_id=p.aws_conn_id,
        poke_interval=p.poke_interval.total_seconds(),
        timeout=(p.optional_source_timeout if optional else p.transactions_timeout).total_seconds(),
        soft_fail=optional,
    )
