"""Roles, schemas and ownership of the warehouse (bootstrap.sql), idempotent.

Run by ``python -m crownsync.warehouse start`` and before loads (skipped when current).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg
from psycopg import sql

from crownsync.settings import get_settings
from crownsync.warehouse.connections import (
    ADVISORY_NAMESPACE,
    CLIENT_CHECK_INTERVAL,
    bound_session,
    open_connection,
    take_xact_lock,
)

log = logging.getLogger("crownsync")

BOOTSTRAP_SQL = Path(__file__).with_name("bootstrap.sql")
BOOTSTRAP_LOCK = (ADVISORY_NAMESPACE, 1)


def _bootstrap_mark() -> str:
    digest = hashlib.sha256(BOOTSTRAP_SQL.read_bytes()).hexdigest()[:16]
    return f"CrownSync raw layer: source rows as loaded (bootstrap {digest})"


def bootstrap_warehouse(url: str, *, force: bool = False) -> None:
    """Roles, schemas and ownership (idempotent). Needs CREATEROLE the first time.

    Skipped when this very bootstrap already ran on the database (its digest is in the
    comment of schema ``raw``), unless ``force``: ingestion calls it before every load,
    and re-running the ownership loop each time would be pure overhead.
    """
    settings = get_settings()
    with open_connection(url, autocommit=True) as conn:
        bound_session(conn, settings)
        mark = _bootstrap_mark()
        current = conn.execute(
            "select obj_description(to_regnamespace('raw'), 'pg_namespace')"
        ).fetchone()[0]
        if current == mark and not force:
            return
        with conn.transaction():
            take_xact_lock(
                conn,
                BOOTSTRAP_LOCK,
                what="warehouse bootstrap (roles and schemas)",
                wait_seconds=settings.ingest_lock_wait_seconds,
            )
            conn.execute(BOOTSTRAP_SQL.read_text())
            _check_clients_by_default(conn)
            conn.execute(sql.SQL("comment on schema raw is {}").format(sql.Literal(mark)))


def _check_clients_by_default(conn: psycopg.Connection) -> None:
    """Every session on the warehouse (dbt's and BI tools' too) notices a dead client.

    A database default, so tools that open their own sessions get it; needs the database
    owner or a superuser — without that, only the pipeline's own sessions have it.
    """
    if conn.info.server_version < 140000:
        return
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("alter database {} set client_connection_check_interval = {}").format(
                    sql.Identifier(conn.info.dbname), sql.Literal(CLIENT_CHECK_INTERVAL)
                )
            )
    except psycopg.errors.InsufficientPrivilege:
        log.info("not the database owner: client_connection_check_interval set per session only")
