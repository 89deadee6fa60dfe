"""The raw ledger: the one module that writes ``raw._loads``, ``raw._watermarks``,
``raw._schema_changes``, ``raw._files``, ``raw._rejected_rows`` and ``raw._changed_keys``,
and owns the loads' advisory locks.

Loaders (``app_db.extract``, ``exports.load``) call it; nothing else writes these tables.
See docs/raw-layer.md for what each table means.
"""

from __future__ import annotations

import logging
import socket
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from crownsync.settings import get_settings
from crownsync.warehouse.connections import ADVISORY_NAMESPACE, LockWaitTimeout, take_xact_lock

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
    backend_pid integer,
    client_host text
);
do $$
begin
    -- ledgers made before loads recorded their backend (no lock taken when it is there)
    if not exists (select from pg_attribute where attrelid = 'raw._loads'::regclass
                      and attname = 'backend_pid' and not attisdropped) then
        alter table raw._loads add column backend_pid integer;
    end if;
    if not exists (select from pg_attribute where attrelid = 'raw._loads'::regclass
                      and attname = 'client_host' and not attisdropped) then
        alter table raw._loads add column client_host text;
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

-- The change log of the big facts (tables.yml `change_keys`): per load, the distinct
-- (parent, day) groups whose rows it inserted, updated, undeleted or marked deleted, both
-- the new and the old group of a row. parent_key and activity_date both NULL: a reset
-- marker (the load's changes are not listed: a first load, or older rows pruned).
create table if not exists raw._changed_keys (
    load_id bigint not null,
    table_name text not null,
    parent_key text,
    activity_date date
);
create index if not exists _changed_keys_table_load on raw._changed_keys (table_name, load_id);
"""

# Advisory lock namespaces ("CrSy", "CrSL"): two-int form (namespace, key).
# - target locks (namespace, crc32(target)), transaction-scoped: one load of a table/export
#   at a time;
# - liveness locks (LIVENESS namespace, load_id), session-scoped on the load's ledger
#   connection: held exactly while the loading process is alive. pg_locks is readable by
#   every role, so anyone can tell a dead 'running' load at once.
_LOCK_NAMESPACE = ADVISORY_NAMESPACE
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
    "raw._changed_keys",
    "raw._changed_keys_table_load",
)


def _ledger_complete(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select bool_and(to_regclass(name) is not null) and exists ("
        "  select from pg_attribute where attrelid = to_regclass('raw._loads')"
        "  and attname = 'client_host' and not attisdropped)"
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


def lock_holder(conn: psycopg.Connection, key: tuple[int, int], target: str) -> str | None:
    """Who holds a target's lock: "since 10:02:11 (pid 4242, host etl-1, load 17)".

    The time and host come from the holder's own ledger row (its running load of this
    target), which every role can read; pg_stat_activity hides them from a role that is not
    the holder's. A holder that is not a load (someone's session) is still named by pid.
    """
    row = conn.execute(
        """
        select l.pid, coalesce(r.started_at, a.xact_start),
               coalesce(r.client_host, a.client_hostname, a.client_addr::text),
               a.application_name, r.load_id
          from pg_locks l
          left join pg_stat_activity a on a.pid = l.pid
          left join lateral (
              select started_at, client_host, load_id
                from raw._loads
               where status = 'running' and (target = %s or target like %s)
               order by load_id desc
               limit 1
          ) r on true
         where l.locktype = 'advisory' and l.granted and l.database = (
                   select oid from pg_database where datname = current_database())
           and l.classid = %s::oid and l.objid = %s::oid and l.objsubid = 2
         limit 1
        """,
        (target, f"{target}/%", _as_oid(key[0]), _as_oid(key[1])),
    ).fetchone()
    if row is None:
        return None
    pid, since, host, app, load_id = row
    when = since.astimezone().strftime("%H:%M:%S") if since else "an unknown time"
    parts = [f"pid {pid}", *(f"host {host}",) * bool(host)]
    parts += [f"load {load_id}"] if load_id else [app] if app else []
    return f"since {when} ({', '.join(parts)})"


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
        holder = lock_holder(conn, key, target) or "(it was just released)"
        log.warning(
            "%s: another load holds the lock %s; waiting %.0f s more, then failing",
            label,
            holder,
            remaining,
        )

    try:
        take_xact_lock(conn, key, what=label, wait_seconds=limit, on_wait=report)
    except LockWaitTimeout:
        holder = lock_holder(conn, key, target)
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
            "insert into raw._loads (load_id, target, kind, backend_pid, client_host) "
            "values (%s, %s, %s, pg_backend_pid(), %s)",
            (load_id, target, kind, socket.gethostname()),
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


def fail_load(recorder: psycopg.Connection, load_id: int, err: BaseException) -> None:
    """Mark a load failed, on its autocommit ledger connection (its data was rolled back)."""
    recorder.execute(
        "update raw._loads set status = 'failed', finished_at = clock_timestamp(), "
        "error = %s where load_id = %s",
        (f"{type(err).__name__}: {err}", load_id),
    )


@contextmanager
def recorded_load(recorder: psycopg.Connection, target: str, kind: str) -> Iterator[int]:
    """``with recorded_load(recorder, "orders", "app_db") as load_id:`` — a load's record.

    Starts the load ('running', committed at once), and marks it failed if the block
    raises. The block marks success itself, with :func:`succeed_load` inside the data's
    transaction, so the rows and 'succeeded' commit together.
    """
    load_id = start_load(recorder, target, kind)
    try:
        yield load_id
    except BaseException as err:
        fail_load(recorder, load_id, err)
        raise


def succeed_load(
    conn: psycopg.Connection,
    load_id: int,
    *,
    rows_read: int,
    rows_inserted: int,
    rows_updated: int = 0,
    rows_deleted: int = 0,
    rows_rejected: int = 0,
    error: str | None = None,
) -> None:
    """Mark a load succeeded, inside the transaction that wrote its rows."""
    conn.execute(
        """
        update raw._loads
           set finished_at = clock_timestamp(), status = 'succeeded', rows_read = %s,
               rows_inserted = %s, rows_updated = %s, rows_deleted = %s, rows_rejected = %s,
               error = %s
         where load_id = %s
        """,
        (rows_read, rows_inserted, rows_updated, rows_deleted, rows_rejected, error, load_id),
    )


def watermark(conn: psycopg.Connection, table: str) -> datetime | None:
    row = conn.execute(
        "select watermark from raw._watermarks where table_name = %s", (table,)
    ).fetchone()
    return row[0] if row else None


def advance_watermark(
    conn: psycopg.Connection,
    table: str,
    cursor_column: str,
    mark: datetime | None,
    load_id: int,
    deletes_checked: bool,
) -> None:
    """Record a table's new watermark, in the load's transaction."""
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
        (table, cursor_column, mark, load_id, deletes_checked),
    )


def record_extra_column(
    conn: psycopg.Connection, table: str, column: str, data_type: str, load_id: int
) -> None:
    conn.execute(
        """
        insert into raw._schema_changes (table_name, column_name, data_type, change, load_id)
        values (%s, %s, %s, 'extra_source_column', %s)
        on conflict do nothing
        """,
        (table, column, data_type, load_id),
    )


def recorded_file_status(
    conn: psycopg.Connection, export: str, file_name: str, size: int, modified_at: datetime
) -> str | None:
    """The ledger status of this very file (same name, size and mtime), if it was seen."""
    row = conn.execute(
        "select status from raw._files where export = %s and file_name = %s "
        "and size_bytes = %s and modified_at = %s limit 1",
        (export, file_name, size, modified_at),
    ).fetchone()
    return row[0] if row else None


def find_file(
    conn: psycopg.Connection, export: str, file_name: str, sha256: str
) -> tuple[int, str] | None:
    """(file_id, status) of this name with these bytes, if the ledger has it."""
    return conn.execute(
        "select file_id, status from raw._files where export = %s and file_name = %s "
        "and sha256 = %s",
        (export, file_name, sha256),
    ).fetchone()


def find_original(conn: psycopg.Connection, export: str, sha256: str) -> tuple[int, str] | None:
    """(file_id, file_name) of the first non-duplicate file of an export with these bytes."""
    return conn.execute(
        "select file_id, file_name from raw._files where export = %s and sha256 = %s "
        "and status <> 'duplicate' order by file_id limit 1",
        (export, sha256),
    ).fetchone()


def record_file(
    conn: psycopg.Connection,
    *,
    export: str,
    file_name: str,
    size: int,
    sha256: str,
    modified_at: datetime,
    status: str,
    load_id: int,
    reason: str | None = None,
    duplicate_of: int | None = None,
) -> int:
    """A file's ledger row (loaded, duplicate or rejected); returns its file_id."""
    return conn.execute(
        """
        insert into raw._files (export, file_name, size_bytes, sha256, modified_at, status,
                                duplicate_of, reason, load_id)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning file_id
        """,
        (export, file_name, size, sha256, modified_at, status, duplicate_of, reason, load_id),
    ).fetchone()[0]


def record_file_rows(
    conn: psycopg.Connection,
    *,
    file_id: int,
    export: str,
    file_name: str,
    rows_loaded: int,
    rejected: Iterable[tuple[int, str | None, str, str]],
    load_id: int,
) -> int:
    """Quarantine a file's bad rows (line, column, raw text, reason) and count both kinds."""
    rows_rejected = 0
    with conn.cursor().copy(
        "copy raw._rejected_rows (file_id, export, file_name, line_number, column_name, "
        "raw_content, reason, load_id) from stdin"
    ) as copy:
        for line, column, raw, reason in rejected:
            copy.write_row((file_id, export, file_name, line, column, raw, reason, load_id))
            rows_rejected += 1
    conn.execute(
        "update raw._files set rows_loaded = %s, rows_rejected = %s where file_id = %s",
        (rows_loaded, rows_rejected, file_id),
    )
    return rows_rejected


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


@dataclass(frozen=True)
class ChangedKeys:
    """What one load recorded in ``raw._changed_keys`` for its table."""

    parents: int = 0  # distinct parents affected (new and old)
    days: int = 0  # distinct days affected
    groups: int = 0  # distinct (parent, day) rows recorded
    sample: tuple[str, ...] = ()  # a few "parent/day" groups, for run metadata
    reset: bool = False  # a reset marker was recorded instead of the keys


CHANGED_KEYS_SAMPLE = 5


def record_changed_keys(
    conn: psycopg.Connection, load_id: int, table: str, keys: sql.Composable
) -> ChangedKeys:
    """Record the distinct (parent_key, activity_date) rows of the query ``keys``.

    Call it inside the load's data transaction, once per load and table: the keys commit or
    roll back with the rows they describe. ``keys`` selects two columns (parent key as text,
    day as date); NULL parents are kept, a NULL/NULL pair is stored as is.
    """
    row = conn.execute(
        sql.SQL(
            """
            with recorded as (
                insert into raw._changed_keys (load_id, table_name, parent_key, activity_date)
                select distinct %s::bigint, %s::text, k.parent_key, k.activity_date
                  from ({keys}) as k (parent_key, activity_date)
                returning parent_key, activity_date
            )
            select count(distinct parent_key), count(distinct activity_date), count(*),
                   (array_agg(coalesce(parent_key, '-') || '/' || coalesce(activity_date::text, '-')
                              order by parent_key, activity_date))[1:%s]
              from recorded
            """
        ).format(keys=keys),
        (load_id, table, CHANGED_KEYS_SAMPLE),
    ).fetchone()
    parents, days, groups, sample = row
    return ChangedKeys(int(parents), int(days), int(groups), tuple(sample or ()))


def record_reset_marker(conn: psycopg.Connection, load_id: int, table: str) -> ChangedKeys:
    """Record that ``load_id`` changed ``table`` in a way the change log does not list (a
    first load): a model whose watermark is below it rebuilds all its groups."""
    conn.execute(
        "insert into raw._changed_keys (load_id, table_name, parent_key, activity_date) "
        "values (%s, %s, null, null)",
        (load_id, table),
    )
    return ChangedKeys(reset=True)


def prune_changed_keys(
    conn: psycopg.Connection, table: str, retention: timedelta = timedelta(days=30)
) -> int:
    """Delete ``table``'s change rows of loads finished more than ``retention`` ago.

    A reset marker is left at the highest pruned load id, so a model whose watermark is
    older than the pruned range sees it and rebuilds in full. Returns the rows deleted
    (the marker not counted). Cheap: one indexed range of (table_name, load_id).
    """
    cutoff = conn.execute(
        "select max(load_id) from raw._loads where target = %s and finished_at is not null "
        "and finished_at < clock_timestamp() - %s::interval",
        (table, retention),
    ).fetchone()[0]
    if cutoff is None:
        return 0
    cur = conn.execute(
        """
        delete from raw._changed_keys
         where table_name = %s and load_id <= %s
           and not (load_id = %s and parent_key is null and activity_date is null)
        """,
        (table, cutoff, cutoff),
    )
    deleted = cur.rowcount
    if deleted:
        conn.execute(
            """
            insert into raw._changed_keys (load_id, table_name, parent_key, activity_date)
            select %s, %s, null, null
             where not exists (select from raw._changed_keys
                                where table_name = %s and load_id = %s
                                  and parent_key is null and activity_date is null)
            """,
            (cutoff, table, table, cutoff),
        )
        log.info(
            "ledger: pruned %s change row(s) of %s up to load %s (reset marker left there)",
            deleted,
            table,
            cutoff,
        )
    return deleted


def qualified(table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(table))
