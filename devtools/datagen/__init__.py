"""Deterministic sample data for the landing zone: assets, clients and transactions as a real firm delivers them.

Pure layer: `DataGenRun(cfg).deliveries()` yields in-memory files (`Delivery.table`, `Delivery.data`) in upload
order. Sinks: `write_to_dir` and `write_to_s3`. Both also write the ground-truth manifest (local file only).
`python -m devtools.datagen --help` runs it from the shell; docs/landing-contract.md describes what it produces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from devtools.datagen.config import GeneratorConfig
from devtools.datagen.delivery import Delivery
from devtools.datagen.run import DataGenRun

__all__ = ["DataGenRun", "Delivery", "GeneratorConfig", "RunResult", "generate", "write_to_dir", "write_to_s3"]


@dataclass
class RunResult:
    manifest: dict
    manifest_path: Path | None
    target: str
    seconds: float


def generate(cfg: GeneratorConfig) -> tuple[list[Delivery], dict]:
    """Everything in memory (small runs and tests): the deliveries in upload order and the manifest."""
    run = DataGenRun(cfg)
    deliveries = list(run.deliveries())
    return deliveries, run.manifest.to_dict()


def write(cfg: GeneratorConfig, sink, manifest_path: Path | None) -> RunResult:
    """Stream every delivery into `sink` (anything with `put(key, data)`), then write the manifest."""
    started = time.perf_counter()
    run = DataGenRun(cfg)
    for delivery in run.deliveries():
        sink.put(delivery.key, delivery.data)
    path = run.manifest.write(manifest_path) if manifest_path else None
    return RunResult(run.manifest.to_dict(), path, sink.describe(), time.perf_counter() - started)


def write_to_dir(cfg: GeneratorConfig, out_dir: Path, manifest_path: Path | None = None) -> RunResult:
    """The landing layout under a local directory instead of a bucket."""
    from devtools.datagen.writer import DirSink

    return write(cfg, DirSink(Path(out_dir)), manifest_path)


def write_to_s3(cfg: GeneratorConfig, manifest_path: Path | None = None, settings=None, client=None) -> RunResult:
    """Upload to the configured landing bucket (see include.settings); the manifest stays local."""
    from devtools.datagen.writer import S3Sink
    from include.settings import get_settings, s3_client

    settings = settings or get_settings()
    return write(cfg, S3Sink(client or s3_client(settings), settings.landing_bucket), manifest_path)
