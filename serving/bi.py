"""What Superset needs from the warehouse, prepared with the pipeline's own credentials.

``python -m serving bi-prepare`` (the first step of ``make bi``) runs in the project's
environment, the only one that knows the warehouse's superuser URL, and hands the BI
environment (``bi/``, Superset's own locked venv) nothing but what it may use:

- a login for ``bi_reader`` (BI_READER_PASSWORD, or a generated one kept in
  ``<BI_HOME>/bi_reader.password``, mode 0600), the read-only role Superset queries as;
- Superset's metadata database: SUPERSET_DATABASE_URL, or a database ``superset`` on the
  warehouse server owned by a role ``superset_app`` of its own (password generated, 0600);
- the tenant logins of ``marts.access_grants``, which Superset mirrors as RLS filters.

All of it goes into ``<BI_HOME>/connection.json`` (0600). BI_HOME defaults to
``.warehouse/bi``.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from crownsync.errors import UserError
from crownsync.settings import PROJECT_ROOT, get_settings, with_database
from crownsync.warehouse.connections import open_connection
from serving.grants import grant_reader_logins

PUBLIC_MARTS = (
    "campaign_performance",
    "retailer_ranking",
    "regional_wish_list",
    "fct_campaign_channel_daily",
)
METADATA_DB = "superset"
METADATA_ROLE = "superset_app"


def bi_home() -> Path:
    return Path(os.environ.get("BI_HOME") or PROJECT_ROOT / ".warehouse" / "bi")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def kept_secret(path: Path, env_value: str | None = None) -> str:
    """The value of an environment variable, else the one kept in ``path``, else a new one."""
    if env_value:
        return env_value
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(24)
    write_private(path, value + "\n")
    return value


def _url(base: str, **parts: object) -> str:
    return make_url(base).set(**parts).render_as_string(hide_password=False)


def _check_marts(conn: psycopg.Connection) -> None:
    found = {
        row[0]
        for row in conn.execute(
            "select tablename from pg_tables where schemaname = 'marts' and tablename = any(%s)",
            (list(PUBLIC_MARTS),),
        )
    }
    missing = [name for name in PUBLIC_MARTS if name not in found]
    if missing:
        raise UserError(
            f"the marts are not built yet: marts.{', marts.'.join(missing)} missing",
            "run `make run` first, then `make bi`",
        )


def _metadata_url(conn: psycopg.Connection, warehouse_url: str, home: Path) -> str:
    configured = os.environ.get("SUPERSET_DATABASE_URL")
    if configured:
        return configured
    password = kept_secret(home / "superset_app.password")
    with conn.transaction():
        conn.execute("set local role none")
        exists = conn.execute(
            "select 1 from pg_roles where rolname = %s", (METADATA_ROLE,)
        ).fetchone()
        verb = "alter" if exists else "create"
        conn.execute(
            sql.SQL(verb + " role {} login password {}").format(
                sql.Identifier(METADATA_ROLE), sql.Literal(password)
            )
        )
    if not conn.execute("select 1 from pg_database where datname = %s", (METADATA_DB,)).fetchone():
        conn.execute("reset role")
        conn.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(METADATA_DB), sql.Identifier(METADATA_ROLE)
            )
        )
    return _url(
        with_database(warehouse_url, METADATA_DB), username=METADATA_ROLE, password=password
    )


def prepare() -> dict[str, object]:
    """Reader login, metadata database, tenant list → ``<BI_HOME>/connection.json``."""
    home = bi_home()
    settings = get_settings()
    url = settings.warehouse_url
    from_env = os.environ.get("BI_READER_PASSWORD")
    reader_password = kept_secret(home / "bi_reader.password", from_env)
    with open_connection(url, autocommit=True, application_name="crownsync-bi-prepare") as conn:
        _check_marts(conn)
        os.environ["BI_READER_PASSWORD"] = reader_password
        try:
            grant_reader_logins(conn)
        finally:
            os.environ.pop("BI_READER_PASSWORD", None)
        metadata_url = _metadata_url(conn, url, home)
        tenants = [
            {
                "login": role,
                "brand_id": str(brand) if brand else None,
                "retailer_id": str(retailer) if retailer else None,
            }
            for role, brand, retailer in conn.execute(
                "select role_name, brand_id, retailer_id from marts.access_grants order by 1"
            )
        ]
    parts = make_url(url)
    info = {
        "warehouse": {
            "host": parts.host,
            "port": parts.port or 5432,
            "database": parts.database,
            "username": "bi_reader",
            "password": reader_password,
        },
        "metadata_url": metadata_url,
        "tenants": tenants,
        "reader_password_from": "BI_READER_PASSWORD"
        if from_env
        else str(home / "bi_reader.password"),
    }
    write_private(home / "connection.json", json.dumps(info, indent=2) + "\n")
    return info
