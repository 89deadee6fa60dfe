"""The ingestion API: what the CLI and the Dagster assets call.

One call per app table (:func:`ingest_app_table`) and per export (:func:`ingest_export`),
plus conveniences for all of them. Every function takes explicit URLs/paths, defaulting to
the project settings (``DATABASE_URL``, ``SOURCE_DATABASE_URL``, ``LANDING_DIR``).
The sources are only ever read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg

from crownsync.errors import ConfigError
from crownsync.settings import get_settings, libpq_url
from crownsync.warehouse.bootstrap import bootstrap_warehouse
from crownsync.warehouse.connections import LockWaitTimeout, connect_warehouse
from ingestion.app_db.extract import SchemaContractError, TableLoadResult, load_table
from ingestion.app_db.manifest import TableSpec, load_manifest
from ingestion.ledger import ensure_raw_schema
from ingestion.platform_exports.feeds import FEEDS
from ingestion.platform_exports.load import FileLoadResult, load_export

log = logging.getLogger("ingestion")

APP_TABLES: tuple[str, ...] = tuple(load_manifest())
EXPORTS: tuple[str, ...] = tuple(FEEDS)


@dataclass
class IngestReport:
    tables: list[TableLoadResult] = field(default_factory=list)
    files: list[FileLoadResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # target -> message

    @property
    def ok(self) -> bool:
        return not self.errors


def _warehouse(url: str | None) -> str:
    return libpq_url(url or get_settings().warehouse_url)


def prepare_warehouse(warehouse_url: str | None = None) -> None:
    """Roles, schemas and the raw bookkeeping tables, if they are missing (idempotent)."""
    url = _warehouse(warehouse_url)
    bootstrap_warehouse(url)
    with connect_warehouse(url, autocommit=True) as conn:
        ensure_raw_schema(conn)


def _spec(table: str) -> TableSpec:
    manifest = load_manifest()
    if table not in manifest:
        raise KeyError(
            f"unknown app table {table!r}; the manifest ingestion/app_db/tables.yml lists "
            f"{', '.join(manifest)}"
        )
    return manifest[table]


def ingest_app_table(
    table: str,
    *,
    warehouse_url: str | None = None,
    source_url: str | None = None,
    full_refresh: bool = False,
    check_deletes: bool | None = None,
    lookback_minutes: int | None = None,
) -> TableLoadResult:
    """Load one app-database table into ``raw.<table>`` (incremental merge)."""
    settings = get_settings()
    warehouse = _warehouse(warehouse_url)
    prepare_warehouse(warehouse)
    lookback = settings.ingest_lookback_minutes if lookback_minutes is None else lookback_minutes
    return load_table(
        _spec(table),
        source_url=libpq_url(source_url or settings.source_url),
        warehouse_url=warehouse,
        lookback=timedelta(minutes=lookback),
        full_refresh=full_refresh,
        check_deletes=check_deletes,
    )


def ingest_export(
    export: str, *, warehouse_url: str | None = None, landing_dir: Path | str | None = None
) -> list[FileLoadResult]:
    """Load the new files of one export feed into ``raw.<export>``."""
    if export not in FEEDS:
        raise KeyError(f"unknown export {export!r}; known exports: {', '.join(FEEDS)}")
    folder = landing_folder(landing_dir)
    warehouse = _warehouse(warehouse_url)
    prepare_warehouse(warehouse)
    return load_export(export, landing_dir=folder, warehouse_url=warehouse)


def landing_folder(landing_dir: Path | str | None = None) -> Path:
    """The landing folder to read; a :class:`ConfigError` when it does not exist.

    A typo in LANDING_DIR must not look like "no new files": an existing folder without
    files is fine, a missing one is an error that names it.
    """
    settings = get_settings()
    folder = Path(landing_dir) if landing_dir else settings.landing_path
    if not folder.is_dir():
        if landing_dir:
            source = "--landing-dir"
        elif settings.landing_dir:
            source = "LANDING_DIR"
        else:
            source = "the demo landing folder"
        hint = (
            "`make simulate` writes the demo world"
            if source == "the demo landing folder"
            else f"fix {source}, or create the folder (an empty folder is fine)"
        )
        raise ConfigError(f"{source} {folder} does not exist", hint)
    return folder


def ingest_app_db(
    *,
    tables: list[str] | None = None,
    warehouse_url: str | None = None,
    source_url: str | None = None,
    full_refresh: bool = False,
    check_deletes: bool | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Every (or the named) app table. A table that fails is reported; the others still load."""
    report = report or IngestReport()
    for table in tables or APP_TABLES:
        try:
            report.tables.append(
                ingest_app_table(
                    table,
                    warehouse_url=warehouse_url,
                    source_url=source_url,
                    full_refresh=full_refresh,
                    check_deletes=check_deletes,
                )
            )
        except (SchemaContractError, KeyError, LockWaitTimeout, psycopg.Error) as err:
            log.error("app_db.%s: FAILED: %s", table, err)
            report.errors[f"app_db.{table}"] = str(err)
    return report


def ingest_exports(
    *,
    exports: list[str] | None = None,
    warehouse_url: str | None = None,
    landing_dir: Path | str | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    report = report or IngestReport()
    for export in exports or EXPORTS:
        try:
            report.files.extend(
                ingest_export(export, warehouse_url=warehouse_url, landing_dir=landing_dir)
            )
        except (KeyError, LockWaitTimeout, psycopg.Error, OSError) as err:
            log.error("exports.%s: FAILED: %s", export, err)
            report.errors[f"exports.{export}"] = str(err)
    return report


def data_versions(warehouse_url: str | None = None) -> dict[str, str | None]:
    """Per raw table (app tables and exports): the data version of its rows, from the ledger.

    The version is ``load:<id>`` of the latest succeeded load that changed the table (rows
    inserted, updated or hard-delete-marked; for an export, a file that added rows), or None
    when no load ever changed it. Re-reading unchanged rows, duplicate files and rejected
    files leave it as it was, so "the version moved" means "the table's rows changed".
    Only reads ``raw._loads``; loads of any tool (Dagster, the CLI) count.
    """
    targets = [*APP_TABLES, *EXPORTS]
    with connect_warehouse(_warehouse(warehouse_url), autocommit=True) as conn:
        exists = conn.execute("select to_regclass('raw._loads') is not null").fetchone()[0]
        if not exists:
            return dict.fromkeys(targets)
        rows = conn.execute(
            """
            select case when kind = 'export'
                        then split_part(substr(target, length('export:') + 1), '/', 1)
                        else target end as table_name,
                   max(load_id)
              from raw._loads
             where status = 'succeeded' and rows_inserted + rows_updated + rows_deleted > 0
             group by 1
            """
        ).fetchall()
    latest = {name: load_id for name, load_id in rows}
    return {t: (f"load:{latest[t]}" if latest.get(t) is not None else None) for t in targets}


def ingest_all(
    *,
    warehouse_url: str | None = None,
    source_url: str | None = None,
    landing_dir: Path | str | None = None,
    full_refresh: bool = False,
    check_deletes: bool | None = None,
) -> IngestReport:
    report = ingest_app_db(
        warehouse_url=warehouse_url,
        source_url=source_url,
        full_refresh=full_refresh,
        check_deletes=check_deletes,
    )
    return ingest_exports(warehouse_url=warehouse_url, landing_dir=landing_dir, report=report)
