"""The landing sensors wait for a real file: non-empty, a contract extension, directly in the day's partition."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from include.pipeline.sensors import LandingFileTrigger, landing_sensor, real_files
from include.settings import Settings

PREFIX = "transactions/dt=2026-11-20/"


@pytest.mark.parametrize(("key", "size"), [
    (PREFIX, 0),                          # the folder marker some tools write
    (PREFIX + "transactions.csv", 0),     # an empty file
    (PREFIX + "_SUCCESS", 12),            # a completion flag is not data
    (PREFIX + "transactions.json", 50),   # not a contract file type
    (PREFIX + "late/transactions.csv", 50),  # not directly in the partition
])
def test_markers_empty_and_foreign_objects_are_not_landing_files(key, size):
    assert real_files(PREFIX, [{"Key": key, "Size": size}]) == []


@pytest.mark.parametrize("name", ["transactions.csv", "part-0.CSV.GZ", "transactions_0001.parquet"])
def test_non_empty_contract_files_are_landing_files(name):
    assert real_files(PREFIX, [{"Key": PREFIX, "Size": 0}, {"Key": PREFIX + name, "Size": 10}]) == [PREFIX + name]


class _Listing:
    """A stand-in for aiobotocore's S3 client: each listing returns the next scripted page contents."""

    def __init__(self, listings):
        self.listings = list(listings)
        self.calls = 0

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    def get_paginator(self, name):
        return self

    async def _pages(self):
        contents = self.listings[min(self.calls, len(self.listings) - 1)]
        self.calls += 1
        yield {"Contents": contents}

    def paginate(self, **params):
        assert params["Prefix"] == PREFIX and params["Delimiter"] == "/"
        return self._pages()


def _first_event(trigger, client, monkeypatch):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    async def fake_conn(self):
        return client

    monkeypatch.setattr(S3Hook, "get_async_conn", fake_conn)

    async def first():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(first(), timeout=10))


def test_the_trigger_keeps_waiting_past_a_folder_marker_until_a_real_file_lands(monkeypatch):
    marker = {"Key": PREFIX, "Size": 0}
    data = {"Key": PREFIX + "transactions.csv", "Size": 2048}
    client = _Listing([[marker], [marker], [marker, data]])
    event = _first_event(LandingFileTrigger("landing", PREFIX, "aws_lakehouse", 0), client, monkeypatch)
    assert event == {"status": "success", "keys": [PREFIX + "transactions.csv"]}
    assert client.calls == 3, "the marker alone never fired the trigger"


def test_a_listing_error_reaches_the_task_instead_of_hanging(monkeypatch):
    class Broken(_Listing):
        def paginate(self, **params):
            raise ConnectionError("object store unreachable")

    event = _first_event(LandingFileTrigger("landing", PREFIX, "aws_lakehouse", 0), Broken([[]]), monkeypatch)
    assert event["status"] == "error" and "unreachable" in event["message"]


def test_the_trigger_serializes_to_an_importable_class_the_triggerer_can_rebuild():
    classpath, kwargs = LandingFileTrigger("landing", PREFIX, "aws_lakehouse", 5.0).serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_sensors_defer_and_only_optional_sources_soft_fail():
    settings = Settings()
    transactions, assets = landing_sensor(settings, "transactions"), landing_sensor(settings, "assets")
    assert transactions.prefix == "transactions/dt={{ ds }}/" and not transactions.soft_fail
    assert assets.soft_fail and assets.timeout < transactions.timeout
