"""Create the project's databases on the warehouse server, idempotently."""

from __future__ import annotations

from psycopg import sql

from crownsync.settings import Settings, database_name, safe_url, with_database
from crownsync.warehouse.connections import open_connection


def _database_name(url: str) -> str:
    name = database_name(url)
    if not name:
        raise ValueError(f"The URL {safe_url(url)} names no database.")
    return name


def _maintenance_url(url: str) -> str:
    return with_database(url, "postgres")


def ensure_database(url: str) -> bool:
    """Create the database of ``url`` on its server if it is missing. True if created."""
    name = _database_name(url)
    with open_connection(_maintenance_url(url), autocommit=True) as conn:
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
