"""Shared fixtures: a real, throwaway PostgreSQL for every test that needs one.

- ``DATABASE_URL`` set: tests create their scratch databases on that server.
- unset: a test-only embedded server is started in ``.warehouse/test-pgdata-<port>`` on
  ``TEST_PG_PORT`` (default 5435), separate from the dev server on 5433, and stopped at the end.
  Its superuser password is in ``.warehouse/test-pgdata-<port>.superuser-password`` (made,
  or migrated from the old trust rule, by ``embedded.start``); the URLs below carry it.

No test touches the dev warehouse, the demo source or a real source.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from crownsync.settings import PROJECT_ROOT
from crownsync.warehouse import embedded
from crownsync.warehouse.credentials import read_superuser_password

# Read once at import, before any fixture points DATABASE_URL at a scratch database.
EXTERNAL_SERVER = bool(os.environ.get("DATABASE_URL"))


def _with_database(url: str, database: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql", database=database)
        .render_as_string(hide_password=False)
    )


def embedded_test_dir() -> Path:
    """Data dir of the embedded test server (DATABASE_URL unset)."""
    return PROJECT_ROOT / ".warehouse" / f"test-pgdata-{embedded_test_port()}"


def embedded_test_port() -> int:
    return int(os.environ.get("TEST_PG_PORT", "5435"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """libpq URL (superuser, password included) of the ``postgres`` maintenance database."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield _with_database(external, "postgres")
        return
    port, data_dir = embedded_test_port(), embedded_test_dir()
    was_running = embedded.status(data_dir, port).running
    embedded.start(data_dir, port)
    url = URL.create(
        "postgresql",
        username=embedded.SUPERUSER,
        password=read_superuser_password(data_dir),
        host="127.0.0.1",
        port=port,
        database="postgres",
    )
    yield url.render_as_string(hide_password=False)
    if not was_running:
        embedded.stop(data_dir, port)


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: ``make_database("src")`` creates an empty database and returns its URL.

    Every database made this way is dropped at the end of the session.
    """
    made: list[str] = []

    def _make(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        made.append(name)
        return _with_database(pg_server_url, name)

    yield _make
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


@pytest.fixture
def landing_dir(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path
