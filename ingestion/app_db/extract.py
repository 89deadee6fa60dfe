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
4. advance the watermark and record the load, in the same transaction as the rows.

Source reads happen in one REPEATABLE READ, READ ONLY transaction: the rows and the keys
come from one snapshot, and the source is never written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from psycopg import sql

from ingestion.db.access import connect_source, connect_warehouse
from ingestion.failpoints import failpoint
from ingestion.loader.bookkeeping import (
    abandon_stale_loads,
    lock_target,
    qualified,
    start_load,
)
from ingestion.manifest import TableSpec

log = logging.getLogger("ingestion")

SOURCE_SCHEMA = "public"
META_COLUMNS = ("_load_id", "_loaded_at", "_source", "_deleted_at")
RELAY_BLOCK_BYTES = 128 * 1024


class SchemaContractError(RuntimeError):
    """The source table does not have the shape the contract requires."""


@dataclass
class TableLoadResult:
    table: str
    load_id: int
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

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.table}: read {self.rows_read:,}, inserted {self.rows_inserted:,}, "
            f"updated {self.rows_updated:,}, deleted {self.rows_deleted:,} "
            f"({self.mode}, {self.rows_per_second:,.0f} rows/s, {self.seconds:.2f}s)"
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
        sql.SQL("primary key ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
        ),
    ]
    conn.execute(
        sql.SQL("create table {} ({})").format(
            qualified(spec.name), sql.SQL(", ").join(column_defs)
        )
    )
    conn.execute(
        sql.SQL("comment on table {} is {}").format(
            qualified(spec.name),
            sql.Literal(f"CrownSync app table public.{spec.name}, merged on its primary key."),
        )
    )


def _sync_raw_table(
    conn: psycopg.Connection, spec: TableSpec, columns: dict[str, str], load_id: int
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


def _record_extra_columns(
    conn: psycopg.Connection,
    spec: TableSpec,
    columns: dict[str, str],
    extras: list[str],
    load_id: int,
) -> None:
    for name in extras:
        conn.execute(
            """
            insert into raw._schema_changes (table_name, column_name, data_type, change, load_id)
            values (%s, %s, %s, 'extra_source_column', %s)
            on conflict do nothing
            """,
            (spec.name, name, columns[name], load_id),
        )


def _copy_stream(
    source: psycopg.Connection,
    target: psycopg.Connection,
    select: sql.Composable,
    into: sql.Composable,
    params: tuple = (),
    block_failpoint: str = "app_db.copy_block",
) -> None:
    """Pipe ``COPY (select) TO STDOUT`` into ``COPY into FROM STDIN``, in bounded blocks.

    The source yields one row per read; the rows are relayed in blocks of about
    ``RELAY_BLOCK_BYTES`` (fewer, larger writes; memory stays bounded by the block size).
    """
    src_cur, dst_cur = source.cursor(), target.cursor()
    out = sql.SQL("copy ({}) to stdout").format(select)
    with (
        src_cur.copy(out, params) as copy_out,
        dst_cur.copy(sql.SQL("copy {} from stdin").format(into)) as copy_in,
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


def _row_changed(cols: list[str]) -> sql.Composed:
    old = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in cols)
    new = sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in cols)
    # compared as text: some types (json, point, xml) have no equality operator
    return sql.SQL(
        "(row({})::text is distinct from row({})::text or t._deleted_at is not null)"
    ).format(old, new)


def _merge_stage(
    conn: psycopg.Connection, spec: TableSpec, cols: list[str], stage: sql.Identifier
) -> tuple[int, int]:
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
    query = sql.SQL(
        """
        with merged as (
            insert into {target} as t ({cols}, _load_id, _loaded_at, _source)
            select {cols}, current_setting('crownsync.load_id')::bigint, now(), 'app_db'
              from {stage}
            on conflict ({pk}) do update set {assignments}
             where {changed}
            returning (xmax = 0) as inserted
        )
        select count(*) filter (where inserted), count(*) filter (where not inserted) from merged
        """
    ).format(
        target=qualified(spec.name),
        cols=col_list,
        stage=stage,
        pk=sql.SQL(", ").join(map(sql.Identifier, spec.primary_key)),
        assignments=assignments,
        changed=_row_changed(cols),
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
    cur = conn.execute(
        sql.SQL(
            """
            update {target} as t
               set _deleted_at = now(), _loaded_at = now(),
                   _load_id = current_setting('crownsync.load_id')::bigint
             where t._deleted_at is null
               and not exists (select 1 from {keys} k where {match})
            """
        ).format(target=qualified(spec.name), keys=keys, match=match)
    )
    return cur.rowcount


def load_table(
    spec: TableSpec,
    *,
    source_url: str,
    warehouse_url: str,
    lookback: timedelta = timedelta(minutes=60),
    full_refresh: bool = False,
    check_deletes: bool | None = None,
) -> TableLoadResult:
    """Load one app table into raw. Raises SchemaContractError (nothing written) on drift."""
    began = time.monotonic()
    with connect_warehouse(warehouse_url, autocommit=True) as recorder:
        load_id = start_load(recorder, spec.name, "app_db")
        failpoint("app_db.started")
        result = TableLoadResult(table=spec.name, load_id=load_id)
        try:
            _load(spec, result, source_url, warehouse_url, lookback, full_refresh, check_deletes)
        except BaseException as err:
            recorder.execute(
                "update raw._loads set status = 'failed', finished_at = clock_timestamp(), "
                "error = %s where load_id = %s",
                (f"{type(err).__name__}: {err}", load_id),
            )
            raise
    result.seconds = time.monotonic() - began
    log.info("app_db.%s", result.summary())
    return result


def _load(
    spec: TableSpec,
    result: TableLoadResult,
    source_url: str,
    warehouse_url: str,
    lookback: timedelta,
    full_refresh: bool,
    check_deletes: bool | None,
) -> None:
    load_id = result.load_id
    with (
        connect_source(source_url, autocommit=True) as source,
        connect_warehouse(warehouse_url) as conn,
    ):
        source.execute("begin isolation level repeatable read read only")
        columns = source_columns(source, spec.name)
        extras = check_contract(spec, columns)
        cols = list(columns)

        with conn.transaction():
            lock_target(conn, spec.name, wait_message=f"raw.{spec.name}")
            abandon_stale_loads(conn, spec.name, load_id)
            failpoint("app_db.locked")
            conn.execute("select set_config('crownsync.load_id', %s, true)", (str(load_id),))
            created, added = _sync_raw_table(conn, spec, columns, load_id)
            failpoint("app_db.raw_synced")
            if extras:
                _record_extra_columns(conn, spec, columns, extras, load_id)
                log.log(
                    logging.WARNING if created or added else logging.INFO,
                    "app_db.%s: extra source column(s) %s kept in raw.%s (not in the contract)",
                    spec.name,
                    ", ".join(extras),
                    spec.name,
                )
            # columns raw has but the source no longer sends: left as they are (null for new rows)
            row = conn.execute(
                "select watermark from raw._watermarks where table_name = %s", (spec.name,)
            ).fetchone()
            watermark = None if (row is None or full_refresh) else row[0]
            result.watermark_before = row[0] if row else None
            raw_empty = (
                created
                or conn.execute(
                    sql.SQL("select not exists (select 1 from {})").format(qualified(spec.name))
                ).fetchone()[0]
            )

            col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
            select = sql.SQL("select {} from {}.{}").format(
                col_list, sql.Identifier(SOURCE_SCHEMA), sql.Identifier(spec.name)
            )
            params: tuple = ()
            if watermark is not None:
                select = sql.SQL("{} where {} > %s").format(select, sql.Identifier(spec.cursor))
                params = (watermark - lookback,)

            if raw_empty:
                result.mode = "initial"
                _copy_stream(
                    source,
                    conn,
                    select,
                    sql.SQL("{} ({})").format(qualified(spec.name), col_list),
                    params,
                )
                result.rows_read = result.rows_inserted = conn.execute(
                    sql.SQL("select count(*) from {}").format(qualified(spec.name))
                ).fetchone()[0]
                new_mark = conn.execute(
                    sql.SQL("select max({}) from {}").format(
                        sql.Identifier(spec.cursor), qualified(spec.name)
                    )
                ).fetchone()[0]
            else:
                result.mode = "full-refresh" if full_refresh else "incremental"
                stage = sql.Identifier("_stage")
                conn.execute(
                    sql.SQL("create temp table {} ({}) on commit drop").format(
                        stage,
                        sql.SQL(", ").join(
                            sql.SQL("{} {}").format(sql.Identifier(c), _type_sql(columns[c]))
                            for c in cols
                        ),
                    )
                )
                _copy_stream(
                    source, conn, select, sql.SQL("{} ({})").format(stage, col_list), params
                )
                result.rows_read, new_mark = conn.execute(
                    sql.SQL("select count(*), max({}) from {}").format(
                        sql.Identifier(spec.cursor), stage
                    )
                ).fetchone()
                if result.rows_read:
                    conn.execute(sql.SQL("analyze {}").format(stage))
                    failpoint("app_db.staged")
                    result.rows_inserted, result.rows_updated = _merge_stage(
                        conn, spec, cols, stage
                    )
            failpoint("app_db.merged")

            do_deletes = (
                check_deletes
                if check_deletes is not None
                else (spec.checks_deletes_every_run or full_refresh)
            )
            if do_deletes and not raw_empty:
                result.rows_deleted = _mark_deleted(source, conn, spec, columns)
                result.deletes_checked = True
                failpoint("app_db.deletes_marked")

            if watermark is not None and (new_mark is None or new_mark < watermark):
                new_mark = watermark  # never move backwards
            result.watermark_after = new_mark
            conn.execute(
                """
                insert into raw._watermarks
                    (table_name, cursor_column, watermark, load_id, deletes_checked_at, updated_at)
                values (%s, %s, %s, %s, case when %s then clock_timestamp() end, clock_timestamp())
                on conflict (table_name) do update set
                    cursor_column = excluded.cursor_column,
                    watermark = excluded.watermark,
                    load_id = excluded.load_id,
                    deletes_checked_at = coalesce(excluded.deletes_checked_at,
                                                  raw._watermarks.deletes_checked_at),
                    updated_at = excluded.updated_at
                """,
                (spec.name, spec.cursor, new_mark, load_id, result.deletes_checked),
            )
            failpoint("app_db.watermark_written")
            conn.execute(
                """
                update raw._loads
                   set finished_at = clock_timestamp(), status = 'succeeded', rows_read = %s,
                       rows_inserted = %s, rows_updated = %s, rows_deleted = %s
                 where load_id = %s
                """,
                (
                    result.rows_read,
                    result.rows_inserted,
                    result.rows_updated,
                    result.rows_deleted,
                    load_id,
                ),
            )
            result.extra_columns = extras
            if added:
                log.warning(
                    "app_db.%s: added column(s) %s to raw.%s",
                    spec.name,
                    ", ".join(added),
                    spec.name,
                )
            failpoint("app_db.before_commit")
        failpoint("app_db.after_commit")
        source.execute("commit")
