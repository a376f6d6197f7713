"""Which landing objects a load looks at, listed by `<source>/dt=YYYY-MM-DD/` prefix so that a day's run costs
what the day delivered, not what the bucket holds.

The run for day D lists the day folders of its look-back window, `[D - look-back, D]` (LAKEHOUSE_INGEST_LOOKBACK_DAYS):
D itself and files delivered late for the days before it. Finding those folders is one delimiter listing per
source, which returns one entry per *day* (1,000 days a request), never the files of days outside the window.
Keys outside the contract's layout (unknown first folders, sub-folders that are not a valid `dt=` day, objects
directly under a source) are listed on every run: the contract makes them rare and each is quarantined once.

The trade-off: a file delivered for a day older than the window is not seen by the daily runs. Reconciliation
(`python -m include.ingestion reconcile --day D`) lists that day and reports it as pending, and a full sweep
(`python -m include.ingestion load` with no `--up-to`, i.e. `load(up_to=None)`) lists everything and loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from include.ingestion.contract import COLUMNS
from include.ingestion.ledger import landing_day

# Keys outside every source's prefix are handled by the run of the source that must arrive every day.
STRAY_OWNER = "transactions"


@dataclass(frozen=True)
class Window:
    """The landing days a run lists, both ends included (ISO dates compare as strings)."""

    first: str
    last: str

    @classmethod
    def ending(cls, up_to: str, lookback_days: int) -> Window:
        last = date.fromisoformat(up_to)
        return cls((last - timedelta(days=max(lookback_days, 0))).isoformat(), last.isoformat())

    def covers(self, day: str) -> bool:
        return self.first <= day <= self.last


def list_landing(client, bucket: str, prefix: str = "") -> list[dict]:
    """Every object under `prefix`, folder markers included: each is accounted for."""
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += page.get("Contents", [])
    return sorted(objects, key=lambda o: o["Key"])


def owner(key: str) -> str:
    """The source whose run handles `key`: its first path segment, or STRAY_OWNER for keys outside the contract."""
    first = key.split("/", 1)[0]
    return first if first in COLUMNS else STRAY_OWNER


def list_deliveries(client, bucket: str, sources: list[str], window: Window | None) -> list[dict]:
    """The objects `sources` own: all of them with no window (a full sweep), else the window's day folders and
    every key outside the contract's layout."""
    if window is None:
        return [o for o in list_landing(client, bucket) if owner(o["Key"]) in sources]
    folders, objects = _children(client, bucket, "")
    objects = objects if STRAY_OWNER in sources else []
    for folder in folders:
        source = folder[:-1]
        if source in COLUMNS and source in sources:
            objects += _source_objects(client, bucket, folder, window)
        elif source not in COLUMNS and STRAY_OWNER in sources:
            objects += list_landing(client, bucket, folder)
    return sorted(objects, key=lambda o: o["Key"])


def _source_objects(client, bucket: str, folder: str, window: Window) -> list[dict]:
    subfolders, objects = _children(client, bucket, folder)
    for sub in subfolders:
        day = landing_day(sub)
        if day is None or window.covers(day):
            objects += list_landing(client, bucket, sub)
    return objects


def _children(client, bucket: str, prefix: str) -> tuple[list[str], list[dict]]:
    """The sub-folders of `prefix` and the objects directly in it (one entry per folder, whatever it holds)."""
    folders, objects = [], []
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    for page in pages:
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        objects += page.get("Contents", [])
    return folders, objects
