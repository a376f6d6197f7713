"""CLI: generate sample landing data into the landing bucket (default) or a local directory.

    python -m devtools.datagen --start 2026-11-20 --days 3 --transactions-per-day 2000 --seed 42 \\
        [--assets 400 --clients 5000] [--output-dir DIR] [--no-broken-files] [--manifest PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from devtools.datagen import GeneratorConfig, RunResult, write_to_dir, write_to_s3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devtools.datagen", description=__doc__.splitlines()[0])
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 20), help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--transactions-per-day", type=int, default=2_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--assets", type=int, default=400)
    p.add_argument("--clients", type=int, default=None,
                   help="default 5000, or transactions-per-day / 3 when that is larger")  # fmt: skip
    p.add_argument("--dirty-rate", type=float, default=GeneratorConfig.dirty_rate)
    p.add_argument("--anomaly-rate", type=float, default=GeneratorConfig.anomaly_rate)
    p.add_argument("--reference-skip-rate", type=float, default=GeneratorConfig.reference_skip_rate,
                   help="share of later days with no assets/clients delivery")  # fmt: skip
    p.add_argument("--chunk-rows", type=int, default=GeneratorConfig.chunk_rows, help="transactions per part file")
    p.add_argument("--no-broken-files", dest="broken_files", action="store_false")
    p.add_argument("--output-dir", type=Path, help="write the landing layout here instead of the landing bucket")
    p.add_argument("--manifest", type=Path, help="ground-truth JSON (default: $LAKEHOUSE_HOME/datagen/manifest.json)")
    return p.parse_args(argv)


def summary(result: RunResult) -> str:
    m = result.manifest
    formats = Counter(f["format"] for f in m["files"] if not f["broken"])
    lines = [f"{m['run_id']}: wrote {len(m['uploads'])} uploads to {result.target} in {result.seconds:.1f}s"]
    for source, t in sorted(m["totals"].items()):
        lines.append(f"  {source:<13} {t['files']:>4} files {t['rows']:>12,} data rows")
    lines.append("  formats       " + ", ".join(f"{k} {v}" for k, v in sorted(formats.items())))

    def counts(section: str) -> str:
        return ", ".join(f"{k} {v['count']}" for k, v in m[section].items())

    lines.append("  file kinds    " + counts("file_kinds"))
    lines.append("  broken files  " + counts("broken_files"))
    lines.append("  cleaned rows  " + ", ".join(f"{k} {v['count']}" for k, v in m["row_kinds"].items()
                                               if v["expect"] != "rejected"))  # fmt: skip
    lines.append("  rejected rows " + ", ".join(f"{k} {v['count']}" for k, v in m["row_kinds"].items()
                                               if v["expect"] == "rejected"))  # fmt: skip
    lines.append("  anomalies     " + counts("anomalies"))
    lines.append(f"  manifest      {result.manifest_path}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = GeneratorConfig(
            start=args.start, days=args.days, transactions_per_day=args.transactions_per_day, seed=args.seed,
            assets=args.assets, clients=args.clients, dirty_rate=args.dirty_rate, anomaly_rate=args.anomaly_rate,
            broken_files=args.broken_files, reference_skip_rate=args.reference_skip_rate, chunk_rows=args.chunk_rows,
        )  # fmt: skip
    except ValueError as exc:
        print(f"invalid arguments: {exc}", file=sys.stderr)
        return 2
    manifest = args.manifest
    if manifest is None:
        from include.settings import get_settings

        manifest = get_settings().home / "datagen" / "manifest.json"
    if args.output_dir:
        result = write_to_dir(cfg, args.output_dir, manifest)
    else:
        result = write_to_s3(cfg, manifest)
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
