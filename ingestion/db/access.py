"""Connections that build as ``warehouse_owner``, and the warehouse bootstrap.

Whatever user ``DATABASE_URL`` names (the embedded server's superuser by default), the
pipeline switches to the role ``warehouse_owner`` (``WAREHOUSE_OWNER_ROLE``; empty = stay
as the connecting user), so that role owns every schema and table it builds.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from ingestion.settings import get_settings

BOOTSTRAP_SQL = Path(__file__).with_name("bootstrap.sql")


def owner_role() -> str:
    return get_settings().warehouse_owner_role


def connect_warehouse(url: str, **kwargs) -> psycopg.Connection:
    """A warehouse connection acting as the owner role (when one is configured)."""
    kwargs.setdefault("application_name", "crownsync-ingestion")
    conn = psycopg.connect(url, **kwargs)
    role = owner_role()
    if role:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        if not conn.autocommit:
            conn.commit()
    return conn


def bootstrap_warehouse(url: str) -> None:
    """Roles, schemas and ownership (idempotent). Needs CREATEROLE the first time."""
    with psycopg.connect(url, autocommit=True) as conn:
        lock = (0x43725379 - (1 << 31), 1)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s, %s)", lock)
            conn.execute(BOOTSTRAP_SQL.read_text())
