"""Command line: `python -m include.ingestion load [--source transactions] [--json]`."""

from __future__ import annotations

import argparse
import logging
import sys

from include.ingestion.contract import COLUMNS
from include.ingestion.loader import load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.ingestion")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("load", help="load every landing file not yet loaded")
    cmd.add_argument("--source", action="append", choices=list(COLUMNS), help="limit to a source (repeatable)")
    cmd.add_argument("--up-to", metavar="YYYY-MM-DD", help="leave partitions after this day unloaded")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    report = load(sources=args.source, up_to=args.up_to)
    if args.json:
        print(report.to_json())
        return 0
    for f in report.files:
        detail = f"{f.rows} rows" if f.status == "loaded" else f.reason
        extra = f" (+columns: {', '.join(f.extra_columns)})" if f.extra_columns else ""
        print(f"{f.status:<9} {f.key}  {detail}{extra}")
    print(f"batch {report.batch_id}: {report.count('loaded')} loaded ({report.rows_loaded} rows), "
          f"{report.count('skipped')} skipped, {report.count('rejected')} rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
