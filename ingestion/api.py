"""The ingestion API: what the CLI and the Dagster assets call.

One call per app table (:func:`ingest_app_table`) and per export (:func:`ingest_export`),
plus conveniences for all of them. Every function takes explicit URLs/paths, defaulting to
the project settings (``DATABASE_URL``, ``SOURCE_DATABASE_URL``, ``LANDING_DIR``).
The sources are only ever read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg

from crownsync.errors import ConfigError
from crownsync.settings import get_settings, libpq_url
from crownsync.warehouse.bootstrap import bootstrap_warehouse
from crownsync.warehouse.connections import LockWaitTimeout, connect_source, connect_warehouse
from ingestion.app_db.extract import (
    SOURCE_SCHEMA,
    SchemaContractError,
    TableLoadResult,
    load_table,
)
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
    workers: int | None = None,
    prepared: bool = False,
    parallel_min_rows: int | None = None,
    streams: int | None = None,
) -> TableLoadResult:
    """Load one app-database table into ``raw.<table>`` (incremental merge).

    ``workers`` (default ``INGEST_WORKERS``): key-range streams for a table of at least
    ``parallel_min_rows`` (default ``INGEST_PARALLEL_MIN_ROWS``); ``streams``: exactly so many.
    """
    settings = get_settings()
    warehouse = _warehouse(warehouse_url)
    if not prepared:
        prepare_warehouse(warehouse)
    lookback = settings.ingest_lookback_minutes if lookback_minutes is None else lookback_minutes
    return load_table(
        _spec(table),
        source_url=libpq_url(source_url or settings.source_url),
        warehouse_url=warehouse,
        lookback=timedelta(minutes=lookback),
        full_refresh=full_refresh,
        check_deletes=check_deletes,
        workers=workers,
        parallel_min_rows=parallel_min_rows,
        streams=streams,
    )


def ingest_export(
    export: str,
    *,
    warehouse_url: str | None = None,
    landing_dir: Path | str | None = None,
    prepared: bool = False,
) -> list[FileLoadResult]:
    """Load the new files of one export feed into ``raw.<export>``."""
    if export not in FEEDS:
        raise KeyError(f"unknown export {export!r}; known exports: {', '.join(FEEDS)}")
    folder = landing_folder(landing_dir)
    warehouse = _warehouse(warehouse_url)
    if not prepared:
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


APP_ERRORS = (SchemaContractError, KeyError, LockWaitTimeout, psycopg.Error, TimeoutError)
EXPORT_ERRORS = (KeyError, LockWaitTimeout, psycopg.Error, OSError)


class StreamSlots:
    """The bounded pool of COPY streams of one ingestion run (``INGEST_WORKERS``)."""

    def __init__(self, size: int):
        self.size = size
        self._free = size
        self._cond = threading.Condition()

    def take(self, wanted: int, wait_seconds: float = 6 * 3600.0) -> int:
        """Wait (bounded) until a slot is free, then take up to ``wanted`` of the free ones."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._free > 0, timeout=wait_seconds):
                raise TimeoutError(
                    f"no ingestion stream slot came free in {wait_seconds:.0f} s "
                    f"(INGEST_WORKERS={self.size})"
                )
            got = max(1, min(wanted, self._free))
            self._free -= got
            return got

    def give_back(self, count: int) -> None:
        with self._cond:
            self._free += count
            self._cond.notify_all()


@dataclass
class _Job:
    target: str
    call: Callable[[int], object]  # called with the number of streams it was given
    handled: tuple[type[BaseException], ...]
    wanted: int = 1  # streams it would use (a large table: INGEST_WORKERS)


def _source_sizes(source_url: str) -> dict[str, float]:
    """Row estimates of the source's tables (planner statistics, no scan); {} if unreadable."""
    try:
        with connect_source(source_url, autocommit=True) as source:
            return {
                name: float(size)
                for name, size in source.execute(
                    "select c.relname, case when c.reltuples >= 0 then c.reltuples "
                    "else pg_relation_size(c.oid) / 100.0 end "
                    "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname = %s and c.relkind in ('r', 'p')",
                    (SOURCE_SCHEMA,),
                ).fetchall()
            }
    except psycopg.Error:
        return {}


def _run_loads(jobs: list[_Job], workers: int) -> list[tuple[str, object, str | None]]:
    """Run the jobs in order, at most ``workers`` streams at once; (target, result, error).

    A job starts as soon as one stream slot is free and gets up to ``wanted`` of the free
    slots (the largest tables come first, so they get their key-range streams). An error
    of a handled kind is logged and returned, the other jobs still run.
    """

    def run(job: _Job, streams: int) -> tuple[str, object, str | None]:
        try:
            return job.target, job.call(streams), None
        except job.handled as err:
            log.error("%s: FAILED: %s", job.target, err)
            return job.target, None, str(err)

    if workers <= 1 or len(jobs) <= 1:
        return [run(job, min(job.wanted, workers)) for job in jobs]
    slots = StreamSlots(workers)

    def run_and_release(job: _Job, streams: int) -> tuple[str, object, str | None]:
        try:
            return run(job, streams)
        finally:
            slots.give_back(streams)

    with ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
        futures = []
        for job in jobs:  # slots <= threads: a started job never waits for a thread
            futures.append(pool.submit(run_and_release, job, slots.take(job.wanted)))
        return [future.result() for future in futures]


def ingest_targets(
    *,
    tables: list[str] | None = (),
    exports: list[str] | None = (),
    warehouse_url: str | None = None,
    source_url: str | None = None,
    landing_dir: Path | str | None = None,
    full_refresh: bool = False,
    check_deletes: bool | None = None,
    report: IngestReport | None = None,
    workers: int | None = None,
) -> IngestReport:
    """App tables and export feeds, at most ``INGEST_WORKERS`` (or ``workers``) streams at once.

    ``None`` = every table / feed, empty = none. Each table or feed is its own load (own
    transaction, ledger row and lock), exactly as when loaded alone. Tables go largest
    first (source estimate); one of at least ``INGEST_PARALLEL_MIN_ROWS`` rows gets the
    free stream slots, up to ``INGEST_WORKERS``, for key-range streams; small tables and
    feeds take one slot each. Files of one feed stay in landing order, one after the other
    (``_is_current`` follows that order). A target that fails is reported; the others
    still load. The report lists tables, then files, in the order given.
    """
    settings = get_settings()
    report = report or IngestReport()
    workers = settings.workers if workers is None else workers
    table_list = list(APP_TABLES if tables is None else tables)
    export_list = list(EXPORTS if exports is None else exports)
    warehouse = _warehouse(warehouse_url)
    source = libpq_url(source_url or settings.source_url)
    prepare_warehouse(warehouse)
    given = {f"app_db.{t}": i for i, t in enumerate(table_list)}
    sizes = _source_sizes(source) if workers > 1 and table_list else {}
    min_rows = max(1, settings.ingest_parallel_min_rows)

    def table_job(table: str) -> _Job:
        def call(streams: int) -> TableLoadResult:
            return ingest_app_table(
                table,
                warehouse_url=warehouse,
                source_url=source,
                full_refresh=full_refresh,
                check_deletes=check_deletes,
                workers=workers,
                prepared=True,
                streams=streams,
            )

        wanted = workers if sizes.get(table, 0) >= min_rows else 1
        return _Job(f"app_db.{table}", call, APP_ERRORS, wanted)

    def export_job(export: str) -> _Job:
        def call(_streams: int) -> list[FileLoadResult]:
            return ingest_export(
                export, warehouse_url=warehouse, landing_dir=landing_dir, prepared=True
            )

        return _Job(f"exports.{export}", call, EXPORT_ERRORS)

    ordered = sorted(table_list, key=lambda t: -sizes.get(t, 0)) if sizes else table_list
    jobs = [table_job(t) for t in ordered] + [export_job(e) for e in export_list]
    outcomes = _run_loads(jobs, workers)
    outcomes.sort(key=lambda o: given.get(o[0], len(given)))  # stable: feeds keep their order
    for target, result, error in outcomes:
        if error is not None:
            report.errors[target] = error
        elif target.startswith("app_db."):
            report.tables.append(result)
        else:
            report.files.extend(result)
    return report


def ingest_app_db(
    *,
    tables: list[str] | None = None,
    warehouse_url: str | None = None,
    source_url: str | None = None,
    full_refresh: bool = False,
    check_deletes: bool | None = None,
    report: IngestReport | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Every (or the named) app table. A table that fails is reported; the others still load."""
    return ingest_targets(
        tables=tables,
        exports=[],
        warehouse_url=warehouse_url,
        source_url=source_url,
        full_refresh=full_refresh,
        check_deletes=check_deletes,
        report=report,
        workers=workers,
    )


def ingest_exports(
    *,
    exports: list[str] | None = None,
    warehouse_url: str | None = None,
    landing_dir: Path | str | None = None,
    report: IngestReport | None = None,
    workers: int | None = None,
) -> IngestReport:
    return ingest_targets(
        tables=[],
        exports=exports,
        warehouse_url=warehouse_url,
        landing_dir=landing_dir,
        report=report,
        workers=workers,
    )


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
    workers: int | None = None,
) -> IngestReport:
    """Every app table and every export feed, in one pool of ``INGEST_WORKERS`` streams."""
    return ingest_targets(
        tables=None,
        exports=None,
        warehouse_url=warehouse_url,
        source_url=source_url,
        landing_dir=landing_dir,
        full_refresh=full_refresh,
        check_deletes=check_deletes,
        workers=workers,
    )
