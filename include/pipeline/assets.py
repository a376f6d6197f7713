"""Airflow Assets for the tables the pipeline writes, named in the settings' Trino catalog."""

from __future__ import annotations

from airflow.sdk import Asset

from include.settings import Settings


def table_asset(settings: Settings, schema: str, table: str) -> Asset:
    return Asset(name=f"{schema}.{table}",
                 uri=f"trino://{settings.trino_host}:{settings.trino_port}/{settings.trino_catalog}/{schema}/{table}")


def raw_table_asset(settings: Settings, source: str) -> Asset:
    return table_asset(settings, settings.raw_schema, source)
