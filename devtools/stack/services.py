"""The services of the local stack, in start order."""

from __future__ import annotations

from devtools.receiver import WebhookReceiver
from devtools.stack.airflow import Airflow
from devtools.stack.objectstore import ObjectStore
from devtools.stack.postgres import Postgres
from devtools.stack.trino import Trino
from include.settings import Settings


def services(settings: Settings, names: list[str] | None = None) -> list:
    all_services = [Postgres(settings), ObjectStore(settings), Trino(settings), WebhookReceiver(settings),
                    Airflow(settings)]
    if not names:
        return all_services
    unknown = set(names) - {s.name for s in all_services}
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(sorted(unknown))}")
    return [s for s in all_services if s.name in names]
