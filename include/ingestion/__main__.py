"""Command line: `python -m include.ingestion load [--source transactions] [--json]` and
`python -m include.ingestion reconcile --day YYYY-MM-DD [--json]`."""

from __future__ import annotations

import argparse
import logging
import sys

from include.ingestion.contract import COLUMNS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.ingestion")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("load", help="load every landing file not yet loaded")
    cmd.add_argument("--source", action="append", choices=list(COLUMNS), help="limit to a source (repeatable)")
    cmd.add_argument("--up-to", metavar="YYYY-MM-DD", help="leave partitions after this day unloaded")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    rec = sub.add_parser("reconcile", help="delivered = loaded + quarantined + reported for a landing day; "
                                           "exit 1 if the day does not balance")
    rec.add_argument("--day", required=True, metavar="YYYY-MM-DD")
    rec.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    return _load(args) if args.command == "load" else _reconcile(args)


def _load(args) -> int:
    from include.ingestion.loader import load

    report = load(sources=args.source, up_to=args.up_to)
    if args.json:
        print(report.to_json())
        return 0
    for f in report.files:
        detail = f"{f.rows} rows" if f.status == "loaded" else f.reason
        extra = f" (+columns: {', '.join(f.extra_columns)})" if f.extra_columns else ""
        print(f"{f.status:<11} {f.key}  {detail}{extra}")
    print(f"batch {report.batch_id}: {report.count('loaded')} loaded ({report.rows_loaded} rows), "
          f"{report.count('skipped')} skipped, {report.count('quarantined')} quarantined, "
          f"{report.count('reported')} reported")
    return 0


def _reconcile(args) -> int:
    from include.ingestion.reconcile import reconcile_day

    result = reconcile_day(args.day)
    print(result.to_json() if args.json else result.line())
    if not args.json:
        for key in result.pending:
            print(f"  pending: {key}")
    return 0 if result.balanced else 1


if __name__ == "__main__":
    sys.exit(main())
