"""The ``raw`` schema's bookkeeping tables, load records and advisory locks.

See docs/raw-layer.md for what each table means.
"""

from __future__ import annotations

import logging
import zlib

import psycopg
from psycopg import sql

log = logging.getLogger("ingestion")

RAW_SCHEMA = "raw"

BOOKKEEPING_DDL = """
create schema if not exists raw;

create table if not exists raw._loads (
    load_id bigserial primary key,
    target text not null,
    kind text not null,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    status text not null default 'running'
        check (status in ('running', 'succeeded', 'failed', 'abandoned')),
    rows_read bigint not null default 0,
    rows_inserted bigint not null default 0,
    rows_updated bigint not null default 0,
    rows_deleted bigint not null default 0,
    rows_rejected bigint not null default 0,
    error text
);

create table if not exists raw._watermarks (
    table_name text primary key,
    cursor_column text not null,
    watermark timestamptz,
    load_id bigint not null,
    deletes_checked_at timestamptz,
    updated_at timestamptz not null default clock_timestamp()
);

create table if not exists raw._schema_changes (
    table_name text not null,
    column_name text not null,
    data_type text not null,
    change text not null,
    detected_at timestamptz not null default clock_timestamp(),
    load_id bigint not null,
    primary key (table_name, column_name, change)
);

create table if not exists raw._files (
    file_id bigserial primary key,
    export text not null,
    file_name text not null,
    size_bytes bigint not null,
    sha256 text not null,
    modified_at timestamptz not null,
    status text not null check (status in ('loaded', 'duplicate', 'rejected')),
    rows_loaded bigint not null default 0,
    rows_rejected bigint not null default 0,
    duplicate_of bigint references raw._files (file_id),
    reason text,
    load_id bigint not null,
    recorded_at timestamptz not null default clock_timestamp(),
    unique (export, file_name, sha256)
);
create index if not exists _files_sha256 on raw._files (sha256);

create table if not exists raw._rejected_rows (
    rejected_id bigserial primary key,
    file_id bigint not null references raw._files (file_id),
    export text not null,
    file_name text not null,
    line_number integer not null,
    column_name text,
    raw_content text not null,
    reason text not null,
    load_id bigint not null,
    rejected_at timestamptz not null default clock_timestamp()
);
create index if not exists _rejected_rows_file on raw._rejected_rows (file_id, line_number);
"""

# Advisory lock namespace ("CrSy"): two-int form, (namespace, crc32(target)).
_LOCK_NAMESPACE = 0x43725379 - (1 << 31)


def _lock_key(target: str) -> int:
    return zlib.crc32(target.encode()) - (1 << 31)


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create the raw schema and bookkeeping tables (idempotent, safe concurrently)."""
    with conn.transaction():
        lock_target(conn, "__raw_schema__", wait_message=None)
        conn.execute(BOOKKEEPING_DDL)


def lock_target(conn: psycopg.Connection, target: str, wait_message: str | None = "") -> None:
    """Take the transaction-scoped advisory lock of one load target.

    Two ingestions of the same table or export serialise on it: the second one waits, and
    says so, until the first commits or dies (a crashed session releases its lock).
    """
    key = (_LOCK_NAMESPACE, _lock_key(target))
    got = conn.execute("select pg_try_advisory_xact_lock(%s, %s)", key).fetchone()[0]
    if got:
        return
    if wait_message is not None:
        log.warning(
            "%s: another ingestion is loading it right now; waiting for it to finish",
            wait_message or target,
        )
    conn.execute("select pg_advisory_xact_lock(%s, %s)", key)


def start_load(conn: psycopg.Connection, target: str, kind: str) -> int:
    """Record a load as running (committed at once, so a crash leaves a trace)."""
    with conn.transaction():
        row = conn.execute(
            "insert into raw._loads (target, kind) values (%s, %s) returning load_id",
            (target, kind),
        ).fetchone()
    return int(row[0])


def finish_load(
    conn: psycopg.Connection,
    load_id: int,
    *,
    status: str,
    rows_read: int = 0,
    rows_inserted: int = 0,
    rows_updated: int = 0,
    rows_deleted: int = 0,
    rows_rejected: int = 0,
    error: str | None = None,
) -> None:
    with conn.transaction():
        conn.execute(
            """
            update raw._loads
               set finished_at = clock_timestamp(), status = %s, rows_read = %s,
                   rows_inserted = %s, rows_updated = %s, rows_deleted = %s,
                   rows_rejected = %s, error = %s
             where load_id = %s
            """,
            (
                status,
                rows_read,
                rows_inserted,
                rows_updated,
                rows_deleted,
                rows_rejected,
                error,
                load_id,
            ),
        )


def abandon_stale_loads(conn: psycopg.Connection, target: str, current_load_id: int) -> int:
    """Loads of ``target`` still 'running' are dead: call this while holding its lock.

    A crashed or killed process leaves its row 'running'; its transaction was rolled back
    and its lock released, so whoever holds the lock now knows it is gone.
    """
    with conn.transaction():
        cur = conn.execute(
            """
            update raw._loads
               set status = 'abandoned', finished_at = clock_timestamp(),
                   error = 'the loading process ended before finishing (crash or kill); '
                           || 'its changes were rolled back'
             where target = %s and status = 'running' and load_id < %s
            """,
            (target, current_load_id),
        )
    return cur.rowcount


def qualified(table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(table))
