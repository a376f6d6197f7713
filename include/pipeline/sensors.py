"""One deferrable S3 sensor per source on that day's landing partition."""

from __future__ import annotations

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

from include.pipeline.config import (
    AWS_CONN_ID,
    LANDING_BUCKET,
    OPTIONAL_SOURCE_TIMEOUT,
    POKE_INTERVAL,
    SENSOR_DEFERRABLE,
    TRANSACTIONS_TIMEOUT,
)

# Sources that may skip a day; a run without them builds on what is already loaded.
OPTIONAL_SOURCES = ("assets", "clients")


def landing_sensor(source: str) -> S3KeySensor:
    """Wait for any file under `<source>/dt=<run day>/`.

    The run for logical date D reads landing day D (`{{ ds }}`): the DAG's cron data-interval timetable starts
    that run once D is over, when the day's files are complete.
    """
    optional = source in OPTIONAL_SOURCES
    return S3KeySensor(
        task_id=f"wait_for_{source}",
        bucket_name=LANDING_BUCKET,
        bucket_key=f"{source}/dt={{{{ ds }}}}/*",
        wildcard_match=True,
        aws_conn_id=AWS_CONN_ID,
        deferrable=SENSOR_DEFERRABLE,
        poke_interval=POKE_INTERVAL.total_seconds(),
        timeout=(OPTIONAL_SOURCE_TIMEOUT if optional else TRANSACTIONS_TIMEOUT).total_seconds(),
        soft_fail=optional,
    )
