"""The ``raw`` schema's bookkeeping tables, load records and advisory locks.

See docs/raw-layer.md for what each table means.
"""

from __future__ import annotations

import logging
import zlib

import psycopg
from psycopg import sql

from ingestion.db.access import LockWaitTimeout, take_xact_lock
from ingestion.settings import get_settings

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
    error text,
    backend_pid integer
);
do $$
begin
    -- ledgers made before loads recorded their backend (no lock taken when it is there)
    if not exists (select from pg_attribute where attrelid = 'raw._loads'::regclass
                      and attname = 'backend_pid' and not attisdropped) then
        alter table raw._loads add column backend_pid integer;
    end if;
end
$$;

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

# Advisory lock namespaces ("CrSy", "CrSL"): two-int form (namespace, key).
# - target locks (namespace, crc32(target)), transaction-scoped: one load of a table/export
#   at a time;
# - liveness locks (LIVENESS namespace, load_id), session-scoped on the load's ledger
#   connection: held exactly while the loading process is alive. pg_locks is readable by
#   every role, so anyone can tell a dead 'running' load at once.
_LOCK_NAMESPACE = 0x43725379 - (1 << 31)
_LIVENESS_NAMESPACE = 0x4372534C - (1 << 31)


def _lock_key(target: str) -> int:
    return zlib.crc32(target.encode()) - (1 << 31)


def _liveness_key(load_id: int) -> tuple[int, int]:
    return _LIVENESS_NAMESPACE, load_id % (1 << 31)


_LEDGER_OBJECTS = (
    "raw._loads",
    "raw._watermarks",
    "raw._schema_changes",
    "raw._files",
    "raw._files_sha256",
    "raw._rejected_rows",
    "raw._rejected_rows_file",
)


def _ledger_complete(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select bool_and(to_regclass(name) is not null) and exists ("
        "  select from pg_attribute where attrelid = to_regclass('raw._loads')"
        "  and attname = 'backend_pid' and not attisdropped)"
        " from unnest(%s::text[]) as name",
        (list(_LEDGER_OBJECTS),),
    ).fetchone()
    return bool(row[0])


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create the raw schema and bookkeeping tables (idempotent, safe concurrently).

    When everything exists nothing is executed: ``create index if not exists`` would take
    a share lock on the ledger tables and queue behind (and in front of) running loads.
    """
    if _ledger_complete(conn):
        return
    with conn.transaction():
        lock_target(conn, "__raw_schema__", wait_message=None)
        conn.execute(BOOKKEEPING_DDL)


def _as_oid(value: int) -> int:
    return value & 0xFFFFFFFF


def lock_holder(conn: psycopg.Connection, key: tuple[int, int]) -> str | None:
    """Who holds an advisory lock: "since 10:02:11 (pid 4242, host 127.0.0.1, app)"."""
    row = conn.execute(
        """
        select a.pid, coalesce(a.xact_start, a.backend_start), a.client_addr::text,
               a.client_hostname, a.application_name
          from pg_locks l
          left join pg_stat_activity a on a.pid = l.pid
         where l.locktype = 'advisory' and l.granted and l.database = (
                   select oid from pg_database where datname = current_database())
           and l.classid = %s::oid and l.objid = %s::oid and l.objsubid = 2
         limit 1
        """,
        (_as_oid(key[0]), _as_oid(key[1])),
    ).fetchone()
    if row is None:
        return None
    pid, since, addr, hostname, app = row
    when = since.astimezone().strftime("%H:%M:%S") if since else "an unknown time"
    where = ", ".join(str(part) for part in (hostname or addr, app) if part)
    return f"since {when} (pid {pid}{', ' + where if where else ''})"


def lock_target(
    conn: psycopg.Connection,
    target: str,
    wait_message: str | None = "",
    wait_seconds: float | None = None,
) -> None:
    """Take the transaction-scoped advisory lock of one load target, waiting boundedly.

    Two ingestions of the same table or export serialise on it: the second one waits and
    says who holds the lock, every 30 s, for at most ``INGEST_LOCK_WAIT_SECONDS``; then it
    fails with one line. A crashed loader's lock goes with its session: the server notices
    a dead client within seconds (``client_connection_check_interval``, keepalives).
    """
    limit = get_settings().ingest_lock_wait_seconds if wait_seconds is None else wait_seconds
    key = (_LOCK_NAMESPACE, _lock_key(target))
    label = wait_message or target
    said = {"at": -1e9}

    def report(waited: float, remaining: float) -> None:
        if wait_message is None or waited - said["at"] < 30:
            return
        said["at"] = waited
        holder = lock_holder(conn, key) or "(it was just released)"
        log.warning(
            "%s: another load holds the lock %s; waiting %.0f s more, then failing",
            label,
            holder,
            remaining,
        )

    try:
        take_xact_lock(conn, key, what=label, wait_seconds=limit, on_wait=report)
    except LockWaitTimeout:
        holder = lock_holder(conn, key)
        raise LockWaitTimeout(
            f"{label}: another load holds the lock {holder or ''}; gave up after {limit:.0f} s "
            f"(INGEST_LOCK_WAIT_SECONDS). If that load is stuck, stop it; the next run "
            f"resumes where the last committed load ended."
        ) from None


def start_load(conn: psycopg.Connection, target: str, kind: str) -> int:
    """Record a load as running (committed at once, so a crash leaves a trace).

    ``conn`` is the load's autocommit ledger connection and must stay open for the whole
    load: it holds the load's liveness lock, so a 'running' row whose lock is gone is known
    to be dead (:func:`abandon_dead_loads`). Dead loads of any target are marked first.
    """
    abandon_dead_loads(conn)
    with conn.transaction():
        load_id = conn.execute("select nextval(pg_get_serial_sequence('raw._loads', 'load_id'))")
        load_id = int(load_id.fetchone()[0])
        got = conn.execute("select pg_try_advisory_lock(%s, %s)", _liveness_key(load_id))
        if not got.fetchone()[0]:  # load ids are unique: only a wrapped id could collide
            raise RuntimeError(f"load {load_id}: its liveness lock is taken by another session")
        conn.execute(
            "insert into raw._loads (load_id, target, kind, backend_pid) "
            "values (%s, %s, %s, pg_backend_pid())",
            (load_id, target, kind),
        )
    return load_id


def abandon_dead_loads(conn: psycopg.Connection) -> int:
    """Mark 'running' loads whose process is gone (liveness lock released) as abandoned.

    Loads recorded before liveness locks existed (no backend_pid) are left to
    :func:`abandon_stale_loads`, which runs under the target lock.
    """
    with conn.transaction():
        cur = conn.execute(
            """
            update raw._loads l
               set status = 'abandoned', finished_at = clock_timestamp(),
                   error = 'the loading process ended before finishing (crash or kill); '
                           || 'its changes were rolled back'
             where l.status = 'running' and l.backend_pid is not null
               and not exists (
                   select from pg_locks k
                    where k.locktype = 'advisory' and k.granted and k.objsubid = 2
                      and k.database = (select oid from pg_database
                                         where datname = current_database())
                      and k.classid = %s::oid and k.objid = (l.load_id %% %s)::oid
               )
            """,
            (_as_oid(_LIVENESS_NAMESPACE), 1 << 31),
        )
    return cur.rowcount


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
