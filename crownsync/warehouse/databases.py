"""Create the project's databases on the warehouse server, idempotently."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from crownsync.settings import Settings, libpq_url


def _database_name(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise ValueError(f"The URL {make_url(url).render_as_string()} names no database.")
    return name


def _maintenance_url(url: str) -> str:
    return libpq_url(make_url(url).set(database="postgres").render_as_string(hide_password=False))


def ensure_database(url: str) -> bool:
    """Create the database of ``url`` on its server if it is missing. True if created."""
    name = _database_name(url)
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return True


def ensure_project_databases(settings: Settings) -> list[str]:
    """The warehouse and Dagster databases, and the demo source when no real one is set."""
    created = []
    urls = [settings.warehouse_url, settings.dagster_storage_url]
    if settings.source_database_url is None:
        urls.append(settings.source_url)
    for url in urls:
        if ensure_database(url):
            created.append(_database_name(url))
    return created
