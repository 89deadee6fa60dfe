"""Connections that build as ``warehouse_owner``, with bounded waits.

Whatever user ``DATABASE_URL`` names (the embedded server's superuser by default), the
pipeline switches to the role ``warehouse_owner`` (``WAREHOUSE_OWNER_ROLE``; empty = stay
as the connecting user), so that role owns every schema and table it builds.

Every session the pipeline opens is bounded (docs/reliability.md):

- ``connect_timeout`` and TCP keepalives, so a dead peer is noticed by both sides;
- on the warehouse: ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout`` from the settings, and — on PostgreSQL 14 and
  newer — ``client_connection_check_interval``, so a backend whose client was killed stops
  within seconds even while it runs a long statement or waits for a lock, and releases what
  it holds instead of blocking the next run.
"""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

from crownsync.errors import connection_failed
from crownsync.settings import Settings, get_settings, url_parts

log = logging.getLogger("ingestion")

# Advisory lock namespace of the project ("CrSy"), two-int form (namespace, key): the
# bootstrap takes key 1 (crownsync.warehouse.bootstrap), loads take crc32 keys of their
# target (ingestion.ledger).
ADVISORY_NAMESPACE = 0x43725379 - (1 << 31)
CLIENT_CHECK_INTERVAL = "5s"


def owner_role() -> str:
    return get_settings().warehouse_owner_role


def transport_options(settings: Settings) -> dict[str, object]:
    return {
        "connect_timeout": settings.connect_timeout_seconds,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


def describe(url: str, settings: Settings) -> tuple[str, str]:
    """(what, setting) naming the database of ``url`` in a message: which database it is
    for a person, and which setting configures it."""
    parts = url_parts(url)
    if (
        settings.source_database_url
        and url_parts(settings.source_url)["database"] == parts["database"]
        and url_parts(settings.source_url)["host"] == parts["host"]
    ):
        return "the source database", "SOURCE_DATABASE_URL"
    if settings.database_url:
        return "the warehouse", "DATABASE_URL"
    return (
        "the embedded warehouse server",
        f"that it runs (`make db-start`) on WAREHOUSE_PG_PORT={settings.warehouse_pg_port}",
    )


def open_connection(
    url: str, *, what: str | None = None, setting: str | None = None, **kwargs
) -> psycopg.Connection:
    """``psycopg.connect`` with the bounded transport options; a failure to connect (server
    down, wrong password, unknown database) is a one-line :class:`ConnectionFailed`."""
    settings = get_settings()
    try:
        return psycopg.connect(url, **{**transport_options(settings), **kwargs})
    except psycopg.OperationalError as err:
        default_what, default_setting = describe(url, settings)
        raise connection_failed(
            what or default_what, setting or default_setting, url_parts(url), err
        ) from err


def bound_session(conn: psycopg.Connection, settings: Settings) -> None:
    values = settings.session_timeouts()
    if conn.info.server_version >= 140000:
        values["client_connection_check_interval"] = CLIENT_CHECK_INTERVAL
    for name, value in values.items():
        conn.execute("select set_config(%s, %s, false)", (name, value))


def connect_warehouse(url: str, **kwargs) -> psycopg.Connection:
    """A bounded warehouse connection acting as the owner role (when one is configured)."""
    settings = get_settings()
    kwargs.setdefault("application_name", "crownsync-ingestion")
    conn = open_connection(url, **kwargs)
    try:
        bound_session(conn, settings)
        role = settings.warehouse_owner_role
        if role:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        if not conn.autocommit:
            conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def connect_source(url: str, **kwargs) -> psycopg.Connection:
    """A connection to a source database: bounded connect and keepalives, nothing else set.

    The source belongs to the app team; we only read it and change none of its settings.
    """
    kwargs.setdefault("application_name", "crownsync-ingestion")
    settings = get_settings()
    setting = "SOURCE_DATABASE_URL" if settings.source_database_url else None
    return open_connection(url, what="the source database", setting=setting, **kwargs)


def take_xact_lock(
    conn: psycopg.Connection,
    key: tuple[int, int],
    *,
    what: str,
    wait_seconds: float,
    on_wait=None,
) -> None:
    """Take a transaction-scoped advisory lock, waiting at most ``wait_seconds``.

    Polls ``pg_try_advisory_xact_lock`` with backoff (never a blocking lock call, so the
    wait has a bound whatever the server settings). ``on_wait(waited, remaining)`` is called
    before each pause so the caller can say who holds the lock. Raises
    :class:`LockWaitTimeout` when the time is up.
    """
    deadline = time.monotonic() + wait_seconds
    pause = 0.05
    while True:
        if conn.execute("select pg_try_advisory_xact_lock(%s, %s)", key).fetchone()[0]:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockWaitTimeout(f"{what}: gave up after {wait_seconds:.0f} s waiting for a lock")
        if on_wait is not None:
            on_wait(wait_seconds - remaining, remaining)
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 2.0)


class LockWaitTimeout(RuntimeError):
    """Another session held a lock longer than we are allowed to wait."""
