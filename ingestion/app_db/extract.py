"""Incremental, exactly-once extraction of one app-database table into ``raw.<table>``.

For each table (one warehouse transaction, so a crash leaves ``raw`` as it was):

1. introspect the source table; a missing required column is a :class:`SchemaContractError`
   (nothing is written), an extra column is added to ``raw`` and recorded;
2. stream ``COPY (select ... where cursor > watermark - lookback) TO STDOUT`` from the source
   straight into ``COPY ... FROM STDIN`` in the warehouse — bytes in, bytes out, in chunks,
   never a whole table in memory;
   - empty raw table (first load): straight into ``raw.<table>``, load metadata from defaults;
   - otherwise: into a temp table, then ``insert ... on conflict do update`` only where the
     row really changed (a re-read row within the lookback window changes nothing);
3. optionally compare primary keys with the source and mark vanished rows ``_deleted_at``;
4. for the big facts (``change_keys`` in tables.yml): record in ``raw._changed_keys`` the
   (parent, day) groups of every row inserted, updated or marked deleted, old and new
   (a first load records one reset marker), and prune the log past its retention;
5. advance the watermark and record the load, in the same transaction as the rows.

Source reads happen in one REPEATABLE READ, READ ONLY transaction: the rows and the keys
come from one snapshot, and the source is never written.

Parallel streams (``INGEST_WORKERS`` > 1, a table of at least ``INGEST_PARALLEL_MIN_ROWS``
rows): the load's source transaction exports its snapshot (``pg_export_snapshot()``) and N
stream connections import it (``SET TRANSACTION SNAPSHOT``), so every stream reads the same
source state. Each stream copies one primary-key range (split points from a sample of the
first key column; the ranges are disjoint and cover every value whatever the sample), in
binary COPY format, into one stage table ``raw._stage_<load_id>`` over its own warehouse
connection (committed). The load's one transaction then turns the stage into the new raw
table (first load: renamed, load columns added, primary key built) or merges it into
``raw.<table>`` (unlogged stage, dropped), and records the load: a crash in any stream
leaves ``raw`` and the ledger as they were, and the next load of the table drops the dead
stage.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from crownsync.settings import get_settings
from crownsync.warehouse.connections import connect_source, connect_warehouse
from ingestion import ledger
from ingestion.app_db.manifest import ChangeKeys, TableSpec
from ingestion.failpoints import failpoint
from ingestion.ledger import qualified

log = logging.getLogger("ingestion")

SOURCE_SCHEMA = "public"
RELAY_BLOCK_BYTES = 128 * 1024


class SchemaContractError(RuntimeError):
    """The source table does not have the shape the contract requires."""


STAGE_PREFIX = "_stage_"
# a stream's wait on the others is cut in slices this long: between two, the load's idle
# connections (warehouse transaction, source snapshot) are pinged so that no
# idle_in_transaction_session_timeout ends them
STREAM_WAIT_SLICE_S = 20.0
SAMPLE_ROWS = 30_000  # rows of the first key column sampled for the split points


@dataclass
class TableLoadResult:
    table: str
    load_id: int
    streams: int = 1  # COPY streams the rows came through (key ranges)
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    seconds: float = 0.0
    watermark_before: object = None
    watermark_after: object = None
    deletes_checked: bool = False
    extra_columns: list[str] = field(default_factory=list)
    mode: str = "incremental"
    # change capture (tables with change_keys): what raw._changed_keys got from this load
    affected_parents: int = 0  # distinct parents (old and new) of the changed rows
    affected_days: int = 0  # distinct days (old and new) of the changed rows
    affected_groups: int = 0  # distinct (parent, day) groups recorded
    affected_sample: list[str] = field(default_factory=list)  # a few "parent/day" groups
    change_log_reset: bool = False  # a reset marker was recorded (first load)
    change_rows_pruned: int = 0  # change rows past the retention deleted by this load

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        streams = f", {self.streams} streams" if self.streams > 1 else ""
        return (
            f"{self.table}: read {self.rows_read:,}, inserted {self.rows_inserted:,}, "
            f"updated {self.rows_updated:,}, deleted {self.rows_deleted:,} "
            f"({self.mode}{streams}, {self.rows_per_second:,.0f} rows/s, {self.seconds:.2f}s)"
        )


def source_columns(source: psycopg.Connection, table: str) -> dict[str, str]:
    """Column name -> formatted type of ``public.<table>`` in the source, in column order."""
    rows = source.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod)
          from pg_attribute a
          join pg_class c on c.oid = a.attrelid
          join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
         order by a.attnum
        """,
        (SOURCE_SCHEMA, table),
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def _raw_columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod)
          from pg_attribute a
          join pg_class c on c.oid = a.attrelid
          join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'raw' and c.relname = %s and a.attnum > 0 and not a.attisdropped
         order by a.attnum
        """,
        (table,),
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def check_contract(spec: TableSpec, columns: dict[str, str]) -> list[str]:
    """Raise on a missing table or required column; return the extra columns."""
    if not columns:
        raise SchemaContractError(
            f"app_db table {spec.name}: not found in the source schema '{SOURCE_SCHEMA}'. "
            f"Check SOURCE_DATABASE_URL, or remove the table from ingestion/app_db/tables.yml."
        )
    missing = [col for col in spec.columns if col not in columns]
    if missing:
        raise SchemaContractError(
            f"app_db table {spec.name}: required column(s) {', '.join(missing)} missing in the "
            f"source (the contract in ingestion/app_db/tables.yml requires them). "
            f"Table {spec.name} was not loaded; nothing was written."
        )
    return [col for col in columns if col not in spec.columns]


def _type_sql(dtype: str) -> sql.SQL:
    # A type name read from pg_catalog's format_type() of the source: not user text, but
    # still checked to be a plain type expression before it is placed in DDL.
    allowed = set('abcdefghijklmnopqrstuvwxyz0123456789_ ()[],"')
    if not dtype or any(ch not in allowed for ch in dtype.lower()):
        raise SchemaContractError(f"unsupported column type {dtype!r}")
    return sql.SQL(dtype)


def _create_raw_table(conn: psycopg.Connection, spec: TableSpec, columns: dict[str, str]) -> None:
    column_defs = [
        sql.SQL("{} {}").format(sql.Identifier(name), _type_sql(dtype))
        for name, dtype in columns.items()
    ]
    column_defs += [
        sql.SQL("_load_id bigint not null default current_setting('crownsync.load_id')::bigint"),
        sql.SQL("_loaded_at timestamptz not null default now()"),
        sql.SQL("_source text not null default 'app_db'"),
        sql.SQL("_deleted_at timestamptz"),
    ]
    # no primary key yet: the first load adds it after the rows are in (one sorted index
    # build instead of an index insert per row), in the same transaction (_add_primary_key)
    conn.execute(
        sql.SQL("create table {} ({})").format(
            qualified(spec.name), sql.SQL(", ").join(column_defs)
        )
    )
    _comment_raw_table(conn, spec)


def _comment_raw_table(conn: psycopg.Connection, spec: TableSpec) -> None:
    conn.execute(
        sql.SQL("comment on table {} is {}").format(
            qualified(spec.name),
            sql.Literal(f"CrownSync app table public.{spec.name}, merged on its primary key."),
        )
    )


def _add_primary_key(conn: psycopg.Connection, spec: TableSpec) -> None:
    """The primary key of a raw table created by this load, once its first rows are in."""
    conn.execute(
        sql.SQL("alter table {} add primary key ({})").format(
            qualified(spec.name), sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
        )
    )


def _sync_raw_table(
    conn: psycopg.Connection, spec: TableSpec, columns: dict[str, str]
) -> tuple[bool, list[str]]:
    """Create ``raw.<table>`` or add new source columns to it. Returns (created, added)."""
    existing = _raw_columns(conn, spec.name)
    if not existing:
        _create_raw_table(conn, spec, columns)
        return True, []
    added = []
    for name, dtype in columns.items():
        if name in existing:
            continue
        conn.execute(
            sql.SQL("alter table {} add column {} {}").format(
                qualified(spec.name), sql.Identifier(name), _type_sql(dtype)
            )
        )
        added.append(name)
    return False, added


def _copy_stream(
    source: psycopg.Connection,
    target: psycopg.Connection,
    select: sql.Composable,
    into: sql.Composable,
    params: tuple = (),
    block_failpoint: str = "app_db.copy_block",
    binary: bool = False,
) -> None:
    """Pipe ``COPY (select) TO STDOUT`` into ``COPY into FROM STDIN``, in bounded blocks.

    The source yields one row per read; the rows are relayed in blocks of about
    ``RELAY_BLOCK_BYTES`` (fewer, larger writes; memory stays bounded by the block size).
    ``binary``: PostgreSQL's binary COPY format (no text formatting and parsing on either
    server); only where the target columns have exactly the source's types (the stage).
    """
    src_cur, dst_cur = source.cursor(), target.cursor()
    fmt = sql.SQL(" (format binary)" if binary else "")
    out = sql.SQL("copy ({}) to stdout{}").format(select, fmt)
    with (
        src_cur.copy(out, params) as copy_out,
        dst_cur.copy(sql.SQL("copy {} from stdin{}").format(into, fmt)) as copy_in,
    ):
        block = bytearray()
        for chunk in copy_out:
            block += chunk
            if len(block) >= RELAY_BLOCK_BYTES:
                copy_in.write(block)
                block = bytearray()
                failpoint(block_failpoint)
        if block:
            copy_in.write(block)


CHANGED_GROUPS = sql.Identifier("_changed_groups")


def _group_of(keys: ChangeKeys) -> sql.Composed:
    """``parent::text, (day)::date`` of the row in scope (unqualified column names)."""
    return sql.SQL("{}::text as parent_key, ({})::date as activity_date").format(
        sql.Identifier(keys.parent), sql.SQL(keys.day)
    )


def _row_changed(cols: list[str], new_alias: str = "excluded") -> sql.Composed:
    old = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in cols)
    new = sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.Identifier(new_alias), sql.Identifier(c)) for c in cols
    )
    # compared as text: some types (json, point, xml) have no equality operator
    return sql.SQL(
        "(row({})::text is distinct from row({})::text or t._deleted_at is not null)"
    ).format(old, new)


def _merge_stage(
    conn: psycopg.Connection, spec: TableSpec, cols: list[str], stage: sql.Identifier
) -> tuple[int, int]:
    """Upsert the changed stage rows. With change_keys, the same statement records into
    the temp table _changed_groups the group of each changed row BEFORE the merge (the raw
    row joined to the stage; a re-parented row's old parent and day) and after it."""
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    non_key = [c for c in cols if c not in spec.primary_key]
    assignments = sql.SQL(", ").join(
        [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in non_key]
        + [
            sql.SQL("_load_id = excluded._load_id"),
            sql.SQL("_loaded_at = excluded._loaded_at"),
            sql.SQL("_deleted_at = null"),
        ]
    )
    track = spec.change_keys
    old_groups, new_groups, returned = sql.SQL(""), sql.SQL(""), sql.SQL("")
    if track is not None:
        match = sql.SQL(" and ").join(
            sql.SQL("s.{0} = t.{0}").format(sql.Identifier(c)) for c in spec.primary_key
        )
        old_groups = sql.SQL(
            """
            old_groups as (
                insert into {groups} (parent_key, activity_date)
                select {group} from (
                    select t.* from {target} as t join {stage} as s on {match}
                     where {changed_vs_stage}
                ) as before_merge
                returning 1
            ),
            """
        ).format(
            groups=CHANGED_GROUPS,
            group=_group_of(track),
            target=qualified(spec.name),
            stage=stage,
            match=match,
            changed_vs_stage=_row_changed(cols, new_alias="s"),
        )
        returned = sql.SQL(", {} ").format(_group_of(track))
        new_groups = sql.SQL(
            """,
            new_groups as (
                insert into {groups} (parent_key, activity_date)
                select parent_key, activity_date from merged
                returning 1
            )
            """
        ).format(groups=CHANGED_GROUPS)
    query = sql.SQL(
        """
        with {old_groups} merged as (
            insert into {target} as t ({cols}, _load_id, _loaded_at, _source)
            select {cols}, current_setting('crownsync.load_id')::bigint, now(), 'app_db'
              from {stage}
            on conflict ({pk}) do update set {assignments}
             where {changed}
            returning (xmax = 0) as inserted {returned}
        ) {new_groups}
        select count(*) filter (where inserted), count(*) filter (where not inserted) from merged
        """
    ).format(
        old_groups=old_groups,
        target=qualified(spec.name),
        cols=col_list,
        stage=stage,
        pk=sql.SQL(", ").join(map(sql.Identifier, spec.primary_key)),
        assignments=assignments,
        changed=_row_changed(cols),
        returned=returned,
        new_groups=new_groups,
    )
    inserted, updated = conn.execute(query).fetchone()
    return int(inserted), int(updated)


def _mark_deleted(
    source: psycopg.Connection, conn: psycopg.Connection, spec: TableSpec, columns: dict[str, str]
) -> int:
    keys = sql.Identifier("_source_keys")
    pk_defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), _type_sql(columns[c]))
        for pk in [spec.primary_key]
        for c in pk
    )
    pk_cols = sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
    conn.execute(sql.SQL("create temp table {} ({}) on commit drop").format(keys, pk_defs))
    _copy_stream(
        source,
        conn,
        sql.SQL("select {} from {}.{}").format(
            pk_cols, sql.Identifier(SOURCE_SCHEMA), sql.Identifier(spec.name)
        ),
        sql.SQL("{} ({})").format(keys, pk_cols),
        block_failpoint="app_db.keys_block",
    )
    conn.execute(sql.SQL("create index on {} ({})").format(keys, pk_cols))
    conn.execute(sql.SQL("analyze {}").format(keys))
    match = sql.SQL(" and ").join(
        sql.SQL("k.{0} = t.{0}").format(sql.Identifier(c)) for c in spec.primary_key
    )
    vanished = sql.SQL("t._deleted_at is null and not exists (select 1 from {} k where {})").format(
        keys, match
    )
    target = qualified(spec.name)
    update = sql.SQL(
        """
        update {target} as t
           set _deleted_at = now(), _loaded_at = now(),
               _load_id = current_setting('crownsync.load_id')::bigint
         where {vanished}
        """
    ).format(target=target, vanished=vanished)
    track = spec.change_keys
    if track is None:
        return conn.execute(update).rowcount
    # the group each vanished row had (before) and has as a tombstone (after), with the
    # update, in one statement (one snapshot)
    query = sql.SQL(
        """
        with old_groups as (
            insert into {groups} (parent_key, activity_date)
            select {group} from {target} as t where {vanished}
            returning 1
        ),
        marked as ({update} returning {group}),
        new_groups as (
            insert into {groups} (parent_key, activity_date) select * from marked returning 1
        )
        select count(*) from marked
        """
    ).format(
        groups=CHANGED_GROUPS,
        group=_group_of(track),
        target=target,
        vanished=vanished,
        update=update,
    )
    return int(conn.execute(query).fetchone()[0])


def _no_delete_possible(
    source: psycopg.Connection, conn: psycopg.Connection, spec: TableSpec, result
) -> bool:
    """True when no source row can have vanished since the last load, so the primary-key
    comparison (a copy of every key of the table) can be skipped.

    That holds when this load inserted no row and the source has as many rows (in the
    same snapshot as the rows just read) as raw has live rows: a deleted row would make the
    source smaller, and a delete hidden by an insert shows up as the insert. The explicit
    ``--check-deletes`` and the full refresh (the nightly job) always compare the keys.
    """
    if result.rows_inserted:
        return False
    source_rows = source.execute(
        sql.SQL("select count(*) from {}.{}").format(
            sql.Identifier(SOURCE_SCHEMA), sql.Identifier(spec.name)
        )
    ).fetchone()[0]
    raw_live = conn.execute(
        sql.SQL("select count(*) from {} where _deleted_at is null").format(qualified(spec.name))
    ).fetchone()[0]
    return source_rows == raw_live


def load_table(
    spec: TableSpec,
    *,
    source_url: str,
    warehouse_url: str,
    lookback: timedelta = timedelta(minutes=60),
    full_refresh: bool = False,
    check_deletes: bool | None = None,
    change_log_retention: timedelta | None = None,
    workers: int | None = None,
    parallel_min_rows: int | None = None,
    streams: int | None = None,
) -> TableLoadResult:
    """Load one app table into raw. Raises SchemaContractError (nothing written) on drift.

    ``change_log_retention`` (tables with change_keys): change rows of loads finished longer
    ago are pruned; default ``CHANGE_LOG_RETENTION_DAYS`` (30).
    ``workers`` (default ``INGEST_WORKERS``): this many key-range streams for a table of at
    least ``parallel_min_rows`` rows (default ``INGEST_PARALLEL_MIN_ROWS``; source estimate).
    ``streams``: exactly this many, decided by the caller (the pool of
    :func:`ingestion.api.ingest_targets`, which shares ``INGEST_WORKERS`` among loads).
    """
    settings = get_settings()
    if change_log_retention is None:
        change_log_retention = timedelta(days=settings.change_log_retention_days)
    workers = settings.workers if workers is None else workers
    if workers < 1 or (streams is not None and streams < 1):
        raise ValueError(f"workers and streams must be at least 1, got {workers}, {streams}")
    if parallel_min_rows is None:
        parallel_min_rows = settings.ingest_parallel_min_rows
    began = time.monotonic()
    with (
        connect_warehouse(warehouse_url, autocommit=True) as recorder,
        ledger.recorded_load(recorder, spec.name, "app_db") as load_id,
    ):
        failpoint("app_db.started")
        result = TableLoadResult(table=spec.name, load_id=load_id)
        with (
            connect_source(source_url, autocommit=True) as source,
            connect_warehouse(warehouse_url) as conn,
        ):
            source.execute("begin isolation level repeatable read read only")
            columns = source_columns(source, spec.name)
            extras = check_contract(spec, columns)
            if streams is None:
                large = _estimated_rows(source, spec.name) >= max(1, parallel_min_rows)
                streams = workers if workers > 1 and large else 1
            parallel = None
            if streams > 1:
                snapshot = source.execute("select pg_export_snapshot()").fetchone()[0]
                parallel = _Parallel(streams, snapshot, source_url, warehouse_url)
            options = _LoadOptions(
                lookback, full_refresh, check_deletes, change_log_retention, parallel
            )
            try:
                with conn.transaction():
                    _load_in_transaction(source, conn, spec, columns, extras, options, result)
                    failpoint("app_db.before_commit")
            except BaseException:
                if parallel is not None:  # rolled back: its stage goes too (best effort)
                    _drop_stage_quietly(conn, load_id)
                raise
            failpoint("app_db.after_commit")
            source.execute("commit")
    result.seconds = time.monotonic() - began
    log.info("app_db.%s", result.summary())
    return result


@dataclass(frozen=True)
class _Parallel:
    """A load's key-range streams: how many, and the source snapshot they all read."""

    streams: int
    snapshot: str
    source_url: str
    warehouse_url: str


@dataclass(frozen=True)
class _LoadOptions:
    lookback: timedelta
    full_refresh: bool
    check_deletes: bool | None
    change_log_retention: timedelta = timedelta(days=30)
    parallel: _Parallel | None = None


def _load_in_transaction(
    source: psycopg.Connection,
    conn: psycopg.Connection,
    spec: TableSpec,
    columns: dict[str, str],
    extras: list[str],
    options: _LoadOptions,
    result: TableLoadResult,
) -> None:
    """Everything of one table load that commits together: rows, deletes, watermark, record."""
    load_id = result.load_id
    ledger.lock_target(conn, spec.name, wait_message=f"raw.{spec.name}")
    ledger.abandon_stale_loads(conn, spec.name, load_id)
    _drop_dead_stages(conn, spec.name, load_id)
    failpoint("app_db.locked")
    conn.execute("select set_config('crownsync.load_id', %s, true)", (str(load_id),))
    created = _prepare_raw_table(conn, spec, columns, extras, load_id)
    failpoint("app_db.raw_synced")

    previous_mark = ledger.watermark(conn, spec.name)
    result.watermark_before = previous_mark
    since = None if (previous_mark is None or options.full_refresh) else previous_mark
    raw_empty = created or _is_empty(conn, spec.name)
    if spec.change_keys is not None and not raw_empty:
        conn.execute(
            sql.SQL(
                "create temp table {} (parent_key text, activity_date date) on commit drop"
            ).format(CHANGED_GROUPS)
        )
    select, params = _extraction_query(spec, list(columns), since, options.lookback)
    if raw_empty:
        result.mode = "initial"
    else:
        result.mode = "full-refresh" if options.full_refresh else "incremental"
    if options.parallel is not None:
        new_mark = _copy_parallel(
            source,
            conn,
            spec,
            columns,
            select,
            params,
            result,
            options.parallel,
            raw_empty,
            created,
        )
    elif raw_empty:
        new_mark = _copy_initial(
            source, conn, spec, list(columns), select, params, result, binary=created
        )
    else:
        new_mark = _copy_and_merge(source, conn, spec, columns, select, params, result)
    if created:
        _add_primary_key(conn, spec)
    failpoint("app_db.merged")

    do_deletes = (
        options.check_deletes
        if options.check_deletes is not None
        else (spec.checks_deletes_every_run or options.full_refresh)
    )
    if do_deletes and not raw_empty:
        if (
            options.check_deletes is None
            and not options.full_refresh
            and _no_delete_possible(source, conn, spec, result)
        ):
            result.deletes_checked = True  # by count: see _no_delete_possible
        else:
            result.rows_deleted = _mark_deleted(source, conn, spec, columns)
            result.deletes_checked = True
        failpoint("app_db.deletes_marked")

    if spec.change_keys is not None:
        _record_changes(conn, spec, raw_empty, options, result)
        failpoint("app_db.changes_recorded")

    if since is not None and (new_mark is None or new_mark < since):
        new_mark = since  # never move backwards
    result.watermark_after = new_mark
    ledger.advance_watermark(
        conn, spec.name, spec.cursor, new_mark, load_id, result.deletes_checked
    )
    failpoint("app_db.watermark_written")
    ledger.succeed_load(
        conn,
        load_id,
        rows_read=result.rows_read,
        rows_inserted=result.rows_inserted,
        rows_updated=result.rows_updated,
        rows_deleted=result.rows_deleted,
    )
    result.extra_columns = extras


def _record_changes(
    conn: psycopg.Connection,
    spec: TableSpec,
    raw_empty: bool,
    options: _LoadOptions,
    result: TableLoadResult,
) -> None:
    """The load's entry in raw._changed_keys (a reset marker for a first load), then prune."""
    if raw_empty:
        changed = ledger.record_reset_marker(conn, result.load_id, spec.name)
    else:
        keys = sql.SQL("select parent_key, activity_date from {}").format(CHANGED_GROUPS)
        changed = ledger.record_changed_keys(conn, result.load_id, spec.name, keys)
    result.affected_parents = changed.parents
    result.affected_days = changed.days
    result.affected_groups = changed.groups
    result.affected_sample = list(changed.sample)
    result.change_log_reset = changed.reset
    result.change_rows_pruned = ledger.prune_changed_keys(
        conn, spec.name, options.change_log_retention
    )


def _prepare_raw_table(
    conn: psycopg.Connection,
    spec: TableSpec,
    columns: dict[str, str],
    extras: list[str],
    load_id: int,
) -> bool:
    """Create raw.<table> or add new source columns; record extra ones. True if created."""
    created, added = _sync_raw_table(conn, spec, columns)
    for name in extras:
        ledger.record_extra_column(conn, spec.name, name, columns[name], load_id)
    if extras:
        log.log(
            logging.WARNING if created or added else logging.INFO,
            "app_db.%s: extra source column(s) %s kept in raw.%s (not in the contract)",
            spec.name,
            ", ".join(extras),
            spec.name,
        )
    if added:
        log.warning(
            "app_db.%s: added column(s) %s to raw.%s", spec.name, ", ".join(added), spec.name
        )
    # columns raw has but the source no longer sends: left as they are (null for new rows)
    return created


def _is_empty(conn: psycopg.Connection, table: str) -> bool:
    query = sql.SQL("select not exists (select 1 from {})").format(qualified(table))
    return conn.execute(query).fetchone()[0]


def _extraction_query(
    spec: TableSpec, cols: list[str], since: datetime | None, lookback: timedelta
) -> tuple[sql.Composed, tuple]:
    """The source rows to read: all of them, or those past the watermark minus lookback."""
    select = sql.SQL("select {} from {}.{}").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)),
        sql.Identifier(SOURCE_SCHEMA),
        sql.Identifier(spec.name),
    )
    if since is None:
        return select, ()
    where = sql.SQL("{} where {} > %s").format(select, sql.Identifier(spec.cursor))
    return where, (since - lookback,)


def _copy_initial(
    source: psycopg.Connection,
    conn: psycopg.Connection,
    spec: TableSpec,
    cols: list[str],
    select: sql.Composed,
    params: tuple,
    result: TableLoadResult,
    binary: bool = False,
) -> datetime | None:
    """First load: COPY straight into the empty raw table. Returns the new watermark.

    ``binary``: the raw table was created by this load from the source's column types."""
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    target = qualified(spec.name)
    into = sql.SQL("{} ({})").format(target, col_list)
    _copy_stream(source, conn, select, into, params, binary=binary)
    result.rows_read, new_mark = conn.execute(
        sql.SQL("select count(*), max({}) from {}").format(sql.Identifier(spec.cursor), target)
    ).fetchone()
    result.rows_inserted = result.rows_read
    return new_mark


def _copy_and_merge(
    source: psycopg.Connection,
    conn: psycopg.Connection,
    spec: TableSpec,
    columns: dict[str, str],
    select: sql.Composed,
    params: tuple,
    result: TableLoadResult,
) -> datetime | None:
    """Incremental load: COPY into a temp stage, merge what changed. Returns the watermark."""
    cols = list(columns)
    stage = sql.Identifier("_stage")
    conn.execute(
        sql.SQL("create temp table {} ({}) on commit drop").format(
            stage,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), _type_sql(columns[c])) for c in cols
            ),
        )
    )
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    # the stage has the source's column types: binary COPY format
    into = sql.SQL("{} ({})").format(stage, col_list)
    _copy_stream(source, conn, select, into, params, binary=True)
    result.rows_read, new_mark = conn.execute(
        sql.SQL("select count(*), max({}) from {}").format(sql.Identifier(spec.cursor), stage)
    ).fetchone()
    if result.rows_read:
        conn.execute(sql.SQL("analyze {}").format(stage))
        failpoint("app_db.staged")
        result.rows_inserted, result.rows_updated = _merge_stage(conn, spec, cols, stage)
    return new_mark


# --- parallel streams ----------------------------------------------------------------------


def _estimated_rows(source: psycopg.Connection, table: str) -> int:
    """The source's own estimate of a table's rows (planner statistics, no scan)."""
    row = source.execute(
        """
        select case when c.reltuples >= 0 then c.reltuples::bigint
                    else pg_relation_size(c.oid) / 100 end
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = %s and c.relname = %s
        """,
        (SOURCE_SCHEMA, table),
    ).fetchone()
    return int(row[0]) if row else 0


def _split_points(
    source: psycopg.Connection, spec: TableSpec, streams: int, estimate: int
) -> list[object]:
    """``streams - 1`` ascending values of the first key column cutting it into about equal
    ranges, from a sample (``TABLESAMPLE SYSTEM``) in the load's snapshot. The sample only
    balances the ranges: any split points give disjoint ranges that cover every value."""
    key = sql.Identifier(spec.primary_key[0])
    percent = min(100.0, 100.0 * SAMPLE_ROWS / max(estimate, 1))
    fractions = [i / streams for i in range(1, streams)]
    points = source.execute(
        sql.SQL(
            "select percentile_disc(%s::float8[]) within group (order by k) "
            "from (select {} as k from {}.{} tablesample system (%s)) as sample"
        ).format(key, sql.Identifier(SOURCE_SCHEMA), sql.Identifier(spec.name)),
        (fractions, percent),
    ).fetchone()[0]
    unique: list[object] = []
    for point in points or []:
        if point is not None and (not unique or point != unique[-1]):
            unique.append(point)
    return unique


def _key_ranges(
    spec: TableSpec, columns: dict[str, str], points: list[object]
) -> list[tuple[sql.Composable, tuple]]:
    """(condition, params) of each stream: [−∞, p1), [p1, p2), …, [pk, +∞) on the first key."""
    if not points:
        return [(sql.SQL("true"), ())]
    key = sql.Identifier(spec.primary_key[0])
    dtype = _type_sql(columns[spec.primary_key[0]])
    below = sql.SQL("{} < %s::{}").format(key, dtype)
    at_or_above = sql.SQL("{} >= %s::{}").format(key, dtype)
    ranges: list[tuple[sql.Composable, tuple]] = [(below, (points[0],))]
    for low, high in zip(points, points[1:], strict=False):
        ranges.append((sql.SQL("{} and {}").format(at_or_above, below), (low, high)))
    ranges.append((at_or_above, (points[-1],)))
    return ranges


def _stage_name(load_id: int) -> sql.Identifier:
    return sql.Identifier(ledger.RAW_SCHEMA, f"{STAGE_PREFIX}{load_id}")


def _drop_dead_stages(conn: psycopg.Connection, table: str, load_id: int) -> None:
    """Drop the stages earlier loads of ``table`` left (killed mid-stream): under the
    table's lock, every other load of it has ended."""
    names = conn.execute(
        """
        select l.load_id
          from raw._loads l
          join pg_class c on c.relname = %s || l.load_id
          join pg_namespace n on n.oid = c.relnamespace and n.nspname = %s
         where l.target = %s and l.load_id <> %s
        """,
        (STAGE_PREFIX, ledger.RAW_SCHEMA, table, load_id),
    ).fetchall()
    for (dead,) in names:
        conn.execute(sql.SQL("drop table if exists {}").format(_stage_name(dead)))
        log.info("app_db.%s: dropped the stage of dead load %s", table, dead)


def _drop_stage_quietly(conn: psycopg.Connection, load_id: int) -> None:
    try:
        with conn.transaction():
            conn.execute(sql.SQL("drop table if exists {}").format(_stage_name(load_id)))
    except psycopg.Error as err:  # the next load of the table drops it (_drop_dead_stages)
        log.warning("stage of load %s left for the next load to drop: %s", load_id, err)


class _Streams:
    """The stream connections of one load, so that one failing stream cancels the others."""

    def __init__(self) -> None:
        self._conns: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self.cancelled = False

    def add(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if self.cancelled:
                raise RuntimeError("the load was cancelled (another stream failed)")
            self._conns.append(conn)

    def cancel_all(self) -> None:
        with self._lock:
            self.cancelled = True
            for conn in self._conns:
                with contextlib.suppress(psycopg.Error):
                    conn.cancel_safe(timeout=5)


def _copy_range(
    par: _Parallel,
    streams: _Streams,
    select: sql.Composable,
    params: tuple,
    into: sql.Composable,
) -> None:
    """One stream: the load's source snapshot, one key range, into the stage (committed)."""
    with (
        connect_source(par.source_url, autocommit=True) as source,
        connect_warehouse(par.warehouse_url, autocommit=True) as target,
    ):
        streams.add(source)
        streams.add(target)
        source.execute("begin isolation level repeatable read read only")
        source.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(par.snapshot)))
        _copy_stream(source, target, select, into, params, binary=True)
        source.execute("commit")


def _copy_parallel(
    source: psycopg.Connection,
    conn: psycopg.Connection,
    spec: TableSpec,
    columns: dict[str, str],
    select: sql.Composed,
    params: tuple,
    result: TableLoadResult,
    par: _Parallel,
    raw_empty: bool,
    created: bool,
) -> datetime | None:
    """Key-range streams into ``raw._stage_<load_id>``, then, in the load's transaction: a
    raw table created by this load *becomes* the stage (:func:`_stage_becomes_raw`); an
    empty one gets one insert, an existing one the merge; the stage is dropped. Returns
    the new watermark."""
    cols = list(columns)
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    stage = _stage_name(result.load_id)
    points = _split_points(source, spec, par.streams, _estimated_rows(source, spec.name))
    ranges = _key_ranges(spec, columns, points)
    result.streams = len(ranges)
    with connect_warehouse(par.warehouse_url, autocommit=True) as admin:
        admin.execute(
            # the stage of a new raw table becomes it: logged from the start (the streams
            # write its WAL in parallel); a stage merged and dropped needs no WAL
            sql.SQL("create {} table {} ({}) with (autovacuum_enabled = false)").format(
                sql.SQL("" if created else "unlogged"),
                stage,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), _type_sql(columns[c])) for c in cols
                ),
            )
        )
    failpoint("app_db.stage_created")
    into = sql.SQL("{} ({})").format(stage, col_list)
    streams = _Streams()
    with ThreadPoolExecutor(len(ranges), thread_name_prefix=f"ingest-{spec.name}") as pool:
        pending = {
            pool.submit(
                _copy_range,
                par,
                streams,
                sql.SQL("select * from ({}) as rows where {}").format(select, condition),
                params + bounds,
                into,
            )
            for condition, bounds in ranges
        }
        try:
            while pending:
                done, pending = wait(pending, STREAM_WAIT_SLICE_S, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()  # the first stream error ends the load
                if pending:  # keep the load's idle sessions alive (idle-in-transaction timeout)
                    conn.execute("select 1")
                    source.execute("select 1")
        except BaseException:
            streams.cancel_all()
            raise
    failpoint("app_db.streams_copied")
    result.rows_read, new_mark = conn.execute(
        sql.SQL("select count(*), max({}) from {}").format(sql.Identifier(spec.cursor), stage)
    ).fetchone()
    if created:
        _stage_becomes_raw(conn, spec, stage, result.load_id)
        result.rows_inserted = result.rows_read
        return new_mark
    if raw_empty:
        inserted = conn.execute(
            sql.SQL("insert into {} ({}) select {} from {}").format(
                qualified(spec.name), col_list, col_list, stage
            )
        )
        result.rows_inserted = inserted.rowcount
    elif result.rows_read:
        conn.execute(sql.SQL("analyze {}").format(stage))
        failpoint("app_db.staged")
        result.rows_inserted, result.rows_updated = _merge_stage(conn, spec, cols, stage)
    conn.execute(sql.SQL("drop table {}").format(stage))
    return new_mark


def _stage_becomes_raw(
    conn: psycopg.Connection, spec: TableSpec, stage: sql.Identifier, load_id: int
) -> None:
    """First load of a table: instead of copying every row once more (insert … select),
    the stage turns into ``raw.<table>``, in the load's transaction: the empty raw table
    just created is dropped, the stage (logged, see :func:`_copy_parallel`) gets the load
    metadata columns (constant defaults: no table rewrite) and the table's name.
    A rollback undoes all of it (the stage stays a stage, dropped by the next load)."""
    target = qualified(spec.name)
    conn.execute(sql.SQL("drop table {}").format(target))
    conn.execute(
        sql.SQL(
            """
            alter table {stage}
                reset (autovacuum_enabled),
                add column _load_id bigint not null default {load_id},
                add column _loaded_at timestamptz not null default now(),
                add column _source text not null default 'app_db',
                add column _deleted_at timestamptz
            """
        ).format(stage=stage, load_id=sql.Literal(load_id))
    )
    conn.execute(sql.SQL("alter table {} rename to {}").format(stage, sql.Identifier(spec.name)))
    conn.execute(
        sql.SQL(
            "alter table {} alter column _load_id "
            "set default current_setting('crownsync.load_id')::bigint"
        ).format(target)
    )
    _comment_raw_table(conn, spec)
