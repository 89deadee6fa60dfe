"""``bi/.venv/bin/python bi/provision.py``: Superset's metadata, admin, warehouse connection,
datasets, dashboards and tenant filters — idempotent (make bi runs it every time).

Reads ``<BI_HOME>/connection.json`` written by ``python -m serving bi-prepare`` (the
project's environment). Errors a person can act on print ``error: …`` / ``hint: …`` and
exit 2, without a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

BI_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BI_DIR.parent
sys.path.insert(0, str(BI_DIR))

from superset_assets import Column, bundle, load_spec  # noqa: E402

ADMIN_USER = os.environ.get("SUPERSET_ADMIN_USER", "admin")
TENANT_ROLE_PREFIX = "tenant_"
TENANT_FILTER_PREFIX = "tenant "


class UserError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def bi_home() -> Path:
    return Path(os.environ.get("BI_HOME") or PROJECT_ROOT / ".warehouse" / "bi")


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def superset_env() -> dict[str, str]:
    """The environment Superset's commands and server run with."""
    home = bi_home()
    key_file = home / "superset_secret_key"
    if not key_file.exists():
        write_private(key_file, secrets.token_urlsafe(42) + "\n")
    return {
        **os.environ,
        "BI_HOME": str(home),
        "SUPERSET_CONFIG_PATH": str(BI_DIR / "superset_config.py"),
        "FLASK_APP": "superset.app:create_app()",
        "SUPERSET_LOG_LEVEL": os.environ.get("SUPERSET_LOG_LEVEL", "WARNING"),
    }


def load_connection() -> dict[str, Any]:
    path = bi_home() / "connection.json"
    if not path.exists():
        raise UserError(
            f"{path} is missing: the warehouse side of the BI setup has not run",
            "run `make bi` (its first step, `python -m serving bi-prepare`, writes it)",
        )
    return json.loads(path.read_text())


def _pg_connect(url: str | None = None, **parts: Any):
    import psycopg2

    try:
        return psycopg2.connect(url, **parts) if url else psycopg2.connect(**parts)
    except psycopg2.OperationalError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise err.__class__(first) from None


def check_databases(info: dict[str, Any]) -> None:
    """The metadata database and the warehouse (as bi_reader) answer, the marts are there."""
    import psycopg2

    try:
        _pg_connect(info["metadata_url"], connect_timeout=10).close()
    except psycopg2.OperationalError as err:
        raise UserError(
            f"Superset's metadata database cannot be reached: {err}",
            "start the warehouse (`make db-start`) or fix SUPERSET_DATABASE_URL",
        ) from None
    w = info["warehouse"]
    try:
        conn = _warehouse_connect(w)
    except psycopg2.OperationalError as err:
        raise UserError(
            f"the warehouse does not answer as bi_reader at {w['host']}:{w['port']}: {err}",
            "start it (`make db-start`, or `make run` for a first build), then `make bi` again",
        ) from None
    with conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' "
            "and table_name in ('campaign_performance', 'retailer_ranking', 'regional_wish_list',"
            " 'fct_campaign_channel_daily')"
        )
        if cur.fetchone()[0] < 4:
            raise UserError(
                "the marts are not built yet (or not published to bi_reader)",
                "run `make run` first, then `make bi`",
            )
    conn.close()


def _warehouse_connect(w: dict[str, Any]):
    """A connection to the warehouse as bi_reader (``w``: the prepared warehouse block)."""
    return _pg_connect(
        host=w["host"],
        port=w["port"],
        dbname=w["database"],
        user=w["username"],
        password=w["password"],
        connect_timeout=10,
    )


def read_columns(
    info: dict[str, Any], datasets: dict[str, dict[str, Any]]
) -> dict[str, list[Column]]:
    """Each dataset's columns, typed, with the mart's column COMMENT as description."""
    conn = _warehouse_connect(info["warehouse"])
    out: dict[str, list[Column]] = {}
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            select c.relname, a.attname, upper(format_type(a.atttypid, null)),
                   col_description(c.oid, a.attnum)
              from pg_attribute a join pg_class c on c.oid = a.attrelid
              join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'marts' and a.attnum > 0 and not a.attisdropped
             order by c.relname, a.attnum
            """
        )
        by_table: dict[str, list[Column]] = {}
        comments: dict[str, str] = {}
        for table, name, type_, comment in cur.fetchall():
            type_ = {
                "CHARACTER VARYING": "VARCHAR",
                "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
            }.get(type_, type_)
            by_table.setdefault(table, []).append(Column(name, type_, comment))
            if comment:
                comments.setdefault(name, comment)
        for key, spec in datasets.items():
            if spec.get("table"):
                out[key] = by_table[spec["table"]]
                continue
            cur.execute(f"select * from ({spec['sql']}) as q limit 0")  # noqa: S608 (repo SQL)
            names = [d.name for d in cur.description]
            oids = [d.type_code for d in cur.description]
            cur.execute(
                "select oid, upper(format_type(oid, null)) from pg_type where oid = any(%s)",
                (oids,),
            )
            types = dict(cur.fetchall())
            out[key] = [
                Column(n, {"CHARACTER VARYING": "VARCHAR"}.get(types[o], types[o]), comments.get(n))
                for n, o in zip(names, oids, strict=True)
            ]
    conn.close()
    return out


def _stamp(info: dict[str, Any]) -> str:
    """Superset's version and the revision its migrations left in the metadata database."""
    from importlib.metadata import version

    return f"apache-superset {version('apache-superset')}"


def metadata_current(info: dict[str, Any]) -> bool:
    """True when `superset db upgrade` + `init` already ran for this Superset version and
    the metadata database still holds their result (the stamp is kept in the database)."""
    import psycopg2

    conn = _pg_connect(info["metadata_url"], connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("select version_num from alembic_version")
            if not cur.fetchone():
                return False
            cur.execute("select stamp from crownsync_bi_stamp")
            row = cur.fetchone()
    except psycopg2.Error:
        return False
    finally:
        conn.close()
    return bool(row) and row[0] == _stamp(info)


def mark_metadata_current(info: dict[str, Any]) -> None:
    conn = _pg_connect(info["metadata_url"], connect_timeout=10)
    with conn, conn.cursor() as cur:
        cur.execute("create table if not exists crownsync_bi_stamp (stamp text not null)")
        cur.execute("delete from crownsync_bi_stamp")
        cur.execute("insert into crownsync_bi_stamp (stamp) values (%s)", (_stamp(info),))
    conn.close()


def run_superset(args: list[str], what: str) -> None:
    log = bi_home() / "logs" / f"superset-{args[0]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    print(f"bi: superset {' '.join(args)} ({what}) …", flush=True)
    with log.open("w") as out:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("superset")), *args],
            env=superset_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise UserError(f"superset {args[0]} failed (log {log}):\n{tail}")
    print(f"bi: superset {args[0]} done in {time.monotonic() - began:.0f}s", flush=True)


def ensure_admin(security_manager, db) -> str | None:
    """Create the admin; returns the password when it was generated (to show once)."""
    from werkzeug.security import check_password_hash

    path = bi_home() / "admin.password"
    given = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    user = security_manager.find_user(username=ADMIN_USER)
    if user is not None:
        if given and not check_password_hash(user.password, given):
            if os.environ.get("SUPERSET_ADMIN_RESET") == "1":
                security_manager.reset_password(user.id, given)
                write_private(path, given + "\n")
                return None
            raise UserError(
                f"SUPERSET_ADMIN_PASSWORD is not the password of the existing Superset admin "
                f"{ADMIN_USER!r}",
                f"use the password in {path}, unset SUPERSET_ADMIN_PASSWORD, or set "
                "SUPERSET_ADMIN_RESET=1 to make it the new password",
            )
        if given:
            write_private(path, given + "\n")
        return None
    generated = None
    if given:
        password = given
    elif path.exists():
        password = path.read_text().strip()
    else:
        password = generated = secrets.token_urlsafe(16)
    admin_role = security_manager.find_role("Admin")
    security_manager.add_user(
        ADMIN_USER,
        "CrownSync",
        "Admin",
        f"{ADMIN_USER}@crownsync.invalid",
        admin_role,
        password=password,
    )
    write_private(path, password + "\n")
    return generated


def sync_tenants(security_manager, db, tenants: list[dict[str, Any]], datasets: dict) -> list[str]:
    """One Superset user, role and RLS filter per tenant login of marts.access_grants.

    Filter clause ``brand_id = '<uuid>'`` (or retailer_id) on every dataset keyed by that
    column; a tenant role may read only those datasets. Tenants gone from access_grants
    lose their filter, role and user. Returns the logins whose password was generated.
    """
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset_assets import stable_uuid

    by_uuid = {str(t.uuid): t for t in db.session.query(SqlaTable).all()}
    gamma = security_manager.find_role("Gamma")
    shown = []
    wanted = set()
    for tenant in tenants:
        login = tenant["login"]
        column = "brand_id" if tenant["brand_id"] else "retailer_id"
        tenant_id = str(UUID(tenant["brand_id"] or tenant["retailer_id"]))  # validated uuid
        role_name = TENANT_ROLE_PREFIX + login
        wanted.add(role_name)
        role = security_manager.find_role(role_name) or security_manager.add_role(role_name)
        tables = [
            by_uuid[stable_uuid("dataset", key)]
            for key, spec in datasets.items()
            if spec.get("tenant") == column and stable_uuid("dataset", key) in by_uuid
        ]
        perms = []
        for table in tables:
            pv = security_manager.add_permission_view_menu("datasource_access", table.perm)
            perms.append(pv)
        # datasource_access only: database_access would open every dataset of the database
        role.permissions = perms
        name = TENANT_FILTER_PREFIX + login
        rls = db.session.query(RowLevelSecurityFilter).filter_by(name=name).one_or_none()
        if rls is None:
            rls = RowLevelSecurityFilter(name=name)
            db.session.add(rls)
        rls.filter_type = "Regular"
        rls.clause = f"{column} = '{tenant_id}'"
        rls.group_key = None
        rls.description = (
            f"tenant login {login}: rows of {column} {tenant_id} (marts.access_grants)"
        )
        rls.tables = tables
        rls.roles = [role]
        user = security_manager.find_user(username=login)
        password_file = bi_home() / "tenants" / f"{login}.password"
        if user is None:
            if password_file.exists():
                password = password_file.read_text().strip()
            else:
                password = secrets.token_urlsafe(16)
                write_private(password_file, password + "\n")
                shown.append(login)
            security_manager.add_user(
                login,
                login,
                "tenant",
                f"{login}@tenants.crownsync.invalid",
                [gamma, role],
                password=password,
            )
        else:
            user.roles = [gamma, role]
            user.active = True
    for role in security_manager.get_all_roles():
        if role.name.startswith(TENANT_ROLE_PREFIX) and role.name not in wanted:
            login = role.name.removeprefix(TENANT_ROLE_PREFIX)
            db.session.query(RowLevelSecurityFilter).filter_by(
                name=TENANT_FILTER_PREFIX + login
            ).delete()
            user = security_manager.find_user(username=login)
            if user is not None:
                user.active = False
                user.roles = []
            db.session.delete(role)
    db.session.commit()
    return shown


def provision() -> int:
    began = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = time.monotonic() - began - sum(phases.values())

    info = load_connection()
    check_databases(info)
    env = superset_env()
    os.environ.update(
        {k: env[k] for k in ("BI_HOME", "SUPERSET_CONFIG_PATH", "SUPERSET_LOG_LEVEL")}
    )
    if not metadata_current(info):
        run_superset(
            ["db", "upgrade"], "Superset's metadata tables; a minute or two the first time"
        )
        run_superset(["init"], "roles and permissions")
        mark_metadata_current(info)
    phase("metadata")
    spec = load_spec()
    columns = read_columns(info, spec.datasets)
    w = info["warehouse"]
    from sqlalchemy.engine import URL

    uri = URL.create(
        "postgresql+psycopg2",
        username=w["username"],
        password=w["password"],
        host=w["host"],
        port=w["port"],
        database=w["database"],
    ).render_as_string(hide_password=False)
    files = bundle(spec, uri, columns)
    phase("bundle")

    import warnings

    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", message=".*flush process.*")
    from superset.app import create_app

    app = create_app()
    phase("app")
    with app.app_context():
        from superset import db, security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.connectors.sqla.models import SqlaTable
        from superset.models.dashboard import Dashboard
        from superset.models.slice import Slice
        from superset.utils.core import override_user

        generated = ensure_admin(security_manager, db)
        db.session.commit()
        admin = security_manager.find_user(username=ADMIN_USER)
        with override_user(admin):
            ImportAssetsCommand(files).run()
        phase("import")
        shown = sync_tenants(security_manager, db, info.get("tenants", []), spec.datasets)
        phase("tenants")
        counts = (
            db.session.query(Dashboard).count(),
            db.session.query(Slice).count(),
            db.session.query(SqlaTable).count(),
        )
    print(
        f"bi: provisioned {counts[0]} dashboards, {counts[1]} charts, {counts[2]} datasets, "
        f"{len(info.get('tenants', []))} tenant login(s) in {time.monotonic() - began:.0f}s "
        f"({', '.join(f'{name} {seconds:.0f}s' for name, seconds in phases.items())})",
        flush=True,
    )
    path = bi_home() / "admin.password"
    if generated:
        print(f"bi: admin login {ADMIN_USER} / {generated}   (shown once; kept in {path}, 0600)")
    else:
        print(f"bi: admin login {ADMIN_USER}, password in {path} (0600) or SUPERSET_ADMIN_PASSWORD")
    for login in shown:
        print(
            f"bi: tenant login {login}: password in {bi_home() / 'tenants' / (login + '.password')}"
        )
    return 0


def main() -> int:
    try:
        return provision()
    except UserError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
