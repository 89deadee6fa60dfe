"""``python -m ingestion {app-db,exports,all}``: load the sources into the warehouse's raw schema.

Exit codes: 0 all loaded; 1 some table or file failed (the others were loaded);
2 bad usage.
"""

from __future__ import annotations

try:
    import argparse
    import logging
    import sys
    import time

    from crownsync.errors import cli
    from ingestion.api import (
        APP_TABLES,
        EXPORTS,
        IngestReport,
        ingest_targets,
        landing_folder,
        prepare_warehouse,
    )
except ModuleNotFoundError as err:  # started with a Python without our packages
    from crownsync.environment import exit_missing_package

    exit_missing_package(err, "python -m ingestion")


def _csv_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def check_source(source_url: str | None) -> None:
    """Connect to the source once (a ConnectionFailed names it), then let each table load."""
    from crownsync.settings import get_settings, libpq_url
    from crownsync.warehouse.connections import connect_source

    with connect_source(libpq_url(source_url or get_settings().source_url)):
        pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion",
        description="Load the CrownSync app database and platform export files into raw.",
    )
    parser.add_argument("what", choices=["app-db", "exports", "all"])
    parser.add_argument(
        "--tables", type=_csv_list, help=f"app tables (default all: {', '.join(APP_TABLES)})"
    )
    parser.add_argument(
        "--exports", type=_csv_list, help=f"export feeds (default all: {', '.join(EXPORTS)})"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="re-read whole tables (ignore watermarks) and check deletes",
    )
    deletes = parser.add_mutually_exclusive_group()
    deletes.add_argument(
        "--check-deletes",
        dest="check_deletes",
        action="store_true",
        default=None,
        help="compare primary keys for every table, the largest included",
    )
    deletes.add_argument(
        "--no-check-deletes",
        dest="check_deletes",
        action="store_false",
        help="compare primary keys for no table",
    )
    parser.add_argument("--warehouse-url", help="default: DATABASE_URL or the embedded server")
    parser.add_argument("--source-url", help="default: SOURCE_DATABASE_URL or the demo source")
    parser.add_argument("--landing-dir", help="default: LANDING_DIR or the demo landing dir")
    parser.add_argument("-q", "--quiet", action="store_true")
    return parser


@cli
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    began = time.monotonic()
    report = IngestReport()
    # fail once, early, on what every table needs: the warehouse, the source, the folder
    prepare_warehouse(args.warehouse_url)
    if args.what in ("app-db", "all"):
        check_source(args.source_url)
    if args.what in ("exports", "all"):
        landing_folder(args.landing_dir)
    # tables and feeds in one pool of INGEST_WORKERS streams (docs/raw-layer.md)
    ingest_targets(
        tables=args.tables if args.what in ("app-db", "all") else [],
        exports=args.exports if args.what in ("exports", "all") else [],
        warehouse_url=args.warehouse_url,
        source_url=args.source_url,
        landing_dir=args.landing_dir,
        full_refresh=args.full_refresh,
        check_deletes=args.check_deletes,
        report=report,
    )
    rows = sum(t.rows_read for t in report.tables)
    loaded = [f for f in report.files if f.status != "skipped"]
    print(
        f"ingestion: {len(report.tables)} tables ({rows:,} rows read), "
        f"{len(loaded)} new files "
        f"({sum(f.rows_loaded for f in loaded):,} rows loaded, "
        f"{sum(f.rows_rejected for f in loaded):,} rejected), "
        f"{time.monotonic() - began:.1f}s"
    )
    for target, message in report.errors.items():
        print(f"FAILED {target}: {message}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
