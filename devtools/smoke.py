"""Prove the lakehouse answers SQL: Trino writes an Iceberg row to the object store and reads it back."""

from __future__ import annotations

import sys

from include.settings import get_settings, trino_connection


def main() -> int:
    settings = get_settings()
    cur = trino_connection(settings).cursor()
    catalog = settings.trino_catalog
    cur.execute("select node_version from system.runtime.nodes")
    version = cur.fetchone()[0]
    cur.execute(f"create schema if not exists {catalog}.smoke")
    cur.fetchall()
    cur.execute(f"create table if not exists {catalog}.smoke.heartbeat (beat_at timestamp(6) with time zone)")
    cur.fetchall()
    cur.execute(f"insert into {catalog}.smoke.heartbeat values (current_timestamp)")
    cur.fetchall()
    cur.execute(f"select count(*), max(beat_at) from {catalog}.smoke.heartbeat")
    beats, last = cur.fetchone()
    print(f"Trino {version} at {settings.trino_http_scheme}://{settings.trino_host}:{settings.trino_port}: "
          f"{catalog}.smoke.heartbeat holds {beats} row(s), latest {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
