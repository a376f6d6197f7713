"""Airflow Assets for the raw tables the ingestion tasks write."""

from __future__ import annotations

from airflow.sdk import Asset

from include.pipeline.config import RAW_SCHEMA, TRINO_CATALOG
from include.settings import get_settings


def raw_table_asset(source: str) -> Asset:
    s = get_settings()
    return Asset(name=f"{RAW_SCHEMA}.{source}",
                 uri=f"trino://{s.trino_host}:{s.trino_port}/{TRINO_CATALOG}/{RAW_SCHEMA}/{source}")
