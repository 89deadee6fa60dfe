"""Roles, grants and row-level security for the people who read the marts.

``apply_access`` publishes the marts (access.sql); ``create_tenant_login`` makes a login
that sees one brand's or one retailer's rows only. Passwords come from the environment
or are generated and shown once; none is ever stored in the repo.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg import sql

ACCESS_SQL = Path(__file__).with_name("grants.sql")
READER_PASSWORD_ENV = {"analyst": "ANALYST_PASSWORD", "bi_reader": "BI_READER_PASSWORD"}


class ServingLockTimeout(RuntimeError):
    """The marts could not be locked for publishing within the session's lock_timeout."""


def apply_access(conn: psycopg.Connection) -> int:
    """Re-apply policies and grants on every mart; returns how many marts were published.

    One transaction: on a lock timeout nothing changes and the previous grants stand.
    """
    try:
        return _apply_access(conn)
    except psycopg.errors.LockNotAvailable as err:
        waited = conn.execute("show lock_timeout").fetchone()[0]
        raise ServingLockTimeout(
            f"serving: could not lock the marts within {waited} (LOCK_TIMEOUT_SECONDS): a long "
            f"reader query or another build holds them. Nothing was published; readers keep "
            f"the previous grants. ({err.diag.message_primary})"
        ) from None


def _apply_access(conn: psycopg.Connection) -> int:
    with conn.transaction():
        conn.execute(ACCESS_SQL.read_text())
        # managing roles needs the connecting user's CREATEROLE, not warehouse_owner's rights
        conn.execute("set local role none")
        _reader_logins(conn)
        return conn.execute(
            "select count(*) from pg_tables where schemaname = 'marts' and rowsecurity"
        ).fetchone()[0]


def _reader_logins(conn: psycopg.Connection) -> list[str]:
    granted = []
    for role, variable in READER_PASSWORD_ENV.items():
        password = os.environ.get(variable)
        if password:  # the shared reader roles may log in when a password is configured
            conn.execute(
                sql.SQL("alter role {} login password {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            granted.append(role)
    return granted


def grant_reader_logins(conn: psycopg.Connection) -> list[str]:
    """Give ``analyst`` / ``bi_reader`` the login of ANALYST_PASSWORD / BI_READER_PASSWORD
    now, without a pipeline run; returns the roles that got one."""
    with conn.transaction():
        conn.execute("set local role none")
        return _reader_logins(conn)


def list_tenant_logins(conn: psycopg.Connection) -> list[tuple[str, str, UUID, bool]]:
    """(login, kind, tenant id, can log in) of every tenant login, by name."""
    rows = conn.execute(
        """
        select g.role_name, case when g.brand_id is not null then 'brand' else 'retailer' end,
               coalesce(g.brand_id, g.retailer_id), coalesce(r.rolcanlogin, false)
          from marts.access_grants g left join pg_roles r on r.rolname = g.role_name
         order by g.role_name
        """
    ).fetchall()
    return [tuple(r) for r in rows]


def drop_tenant_login(conn: psycopg.Connection, role_name: str) -> bool:
    """Drop a tenant login and its grant (one transaction). False if it is not a tenant login."""
    with conn.transaction():
        conn.execute("set local role none")
        known = conn.execute(
            "delete from marts.access_grants where role_name = %s returning role_name",
            (role_name,),
        ).fetchone()
        if not known:
            return False
        if conn.execute("select 1 from pg_roles where rolname = %s", (role_name,)).fetchone():
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role_name)))
    return True


@dataclass(frozen=True)
class TenantLogin:
    role_name: str
    password: str | None  # None when the role existed and kept its password
    brand_id: UUID | None
    retailer_id: UUID | None


def create_tenant_login(
    conn: psycopg.Connection,
    *,
    brand_id: UUID | None = None,
    retailer_id: UUID | None = None,
    role_name: str | None = None,
    password: str | None = None,
) -> TenantLogin:
    """A login role that reads only its tenant's rows of the marts (idempotent)."""
    if (brand_id is None) == (retailer_id is None):
        raise ValueError("give exactly one of a brand id or a retailer id")
    tenant = brand_id or retailer_id
    kind = "brand" if brand_id else "retailer"
    role_name = role_name or f"{kind}_{str(tenant).replace('-', '')[:12]}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role_name):
        raise ValueError(f"invalid login name {role_name!r}: lower-case letters, digits, _")
    with conn.transaction():
        conn.execute("set local role none")  # CREATE ROLE needs the connecting user's CREATEROLE
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role_name,)).fetchone()
        if not exists:
            password = password or secrets.token_urlsafe(18)
            conn.execute(
                sql.SQL("create role {} login password {} in role tenant_reader").format(
                    sql.Identifier(role_name), sql.Literal(password)
                )
            )
        elif password:
            conn.execute(
                sql.SQL("alter role {} login password {}").format(
                    sql.Identifier(role_name), sql.Literal(password)
                )
            )
        conn.execute(sql.SQL("grant tenant_reader to {}").format(sql.Identifier(role_name)))
        conn.execute(
            """
            insert into marts.access_grants (role_name, brand_id, retailer_id)
            values (%s, %s, %s)
            on conflict (role_name) do update
                set brand_id = excluded.brand_id, retailer_id = excluded.retailer_id,
                    granted_at = now()
            """,
            (role_name, brand_id, retailer_id),
        )
    return TenantLogin(role_name, password, brand_id, retailer_id)
