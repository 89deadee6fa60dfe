"""Nobody gets in who should not: the embedded server asks every role for its password.

- the superuser ``postgres`` needs the password from ``<data_dir>.superuser-password``
  (0600): another OS user of the machine, or a wrong password, is refused;
- a cluster made with the old rule (pg_hba.conf trusting ``postgres``) migrates on start;
- reader roles get no TEMP and no CREATE anywhere in the warehouse database.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from crownsync.settings import PROJECT_ROOT
from crownsync.warehouse import embedded
from crownsync.warehouse.bootstrap import bootstrap_warehouse
from crownsync.warehouse.connections import connect_warehouse
from crownsync.warehouse.credentials import read_superuser_password, superuser_password_file
from tests.conftest import EXTERNAL_SERVER, embedded_test_dir, embedded_test_port
from tests.processes import free_port

pytestmark = pytest.mark.integration

embedded_only = pytest.mark.skipif(
    EXTERNAL_SERVER,
    reason="DATABASE_URL is set: authentication is that server's pg_hba.conf, not ours",
)

# pg_hba.conf as ingestion.db.embedded (the old layout) wrote it before passwords were required
LEGACY_HBA = """# crownsync warehouse pg_hba (written by ingestion.db.embedded)
# TYPE  DATABASE  USER      ADDRESS        METHOD
host    all       postgres  127.0.0.1/32   trust
host    all       postgres  ::1/128        trust
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256
"""


def _superuser(port: int, password: str | None) -> dict:
    """Connection keywords for ``postgres``; a passfile that does not exist: ~/.pgpass cannot help."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "user": "postgres",
        "dbname": "postgres",
        "password": password or "",
        "passfile": str(Path(__file__).with_name("no-such-pgpass")),
        "connect_timeout": 10,
    }


def _psql() -> str:
    debian = Path("/usr/bin/psql")
    return str(debian) if debian.exists() else str(embedded.bin_path("psql"))


def _as_nobody(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    entry = pwd.getpwnam("nobody")
    return subprocess.run(
        args,
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **(env or {})},
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- the superuser needs its password --------------------------------------------------


@embedded_only
def test_another_os_user_cannot_connect_as_superuser_nor_read_the_password(pg_server_url):
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as the OS user 'nobody'")
    port, data_dir = embedded_test_port(), embedded_test_dir()
    pw_file = superuser_password_file(data_dir)
    info = pw_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()

    conninfo = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    psql = [_psql(), "-X", "-w", "-At", conninfo, "-c", "select current_user"]
    refused = _as_nobody(psql)
    assert refused.returncode != 0
    assert "no password supplied" in refused.stderr, refused.stderr

    unreadable = _as_nobody(["cat", str(pw_file)])
    assert unreadable.returncode != 0
    assert "Permission denied" in unreadable.stderr

    # the same command with the password gets in: what stopped it above was authentication
    password = read_superuser_password(data_dir)
    allowed = _as_nobody(psql, env={"PGPASSWORD": password})
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "postgres"


@embedded_only
def test_a_wrong_password_is_refused_and_the_right_one_works(pg_server_url):
    port = embedded_test_port()
    with pytest.raises(
        psycopg.OperationalError, match='password authentication failed for user "postgres"'
    ):
        psycopg.connect(**_superuser(port, "not-the-password"))
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(**_superuser(port, None))
    right = read_superuser_password(embedded_test_dir())
    with psycopg.connect(**_superuser(port, right)) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
    with psycopg.connect(pg_server_url) as conn:  # what every tool and test uses
        assert conn.execute("select current_user").fetchone() == ("postgres",)


# --- old clusters migrate by themselves -------------------------------------------------


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    # inside the project: the server's OS user must be able to traverse to it
    path = PROJECT_ROOT / ".warehouse" / f"scratch-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _init_legacy_cluster(data_dir: Path) -> None:
    """A cluster as the project made them before: initdb --auth=trust, postgres trusted."""
    data_dir.mkdir()
    embedded._prepare_permissions(data_dir)
    result = embedded._run_as_service(
        [
            str(embedded.bin_path("initdb")),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\nunix_socket_directories = ''\nshared_buffers = '32MB'\n")
    hba = data_dir / "pg_hba.conf"
    hba.write_text(LEGACY_HBA)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(embedded.SERVICE_USER)
        os.chown(hba, entry.pw_uid, entry.pw_gid)


def _start_legacy(data_dir: Path, port: int) -> None:
    result = embedded._run_as_service(
        [
            str(embedded.bin_path("pg_ctl")),
            "-D",
            str(data_dir),
            "-l",
            str(data_dir / "server.log"),
            "-o",
            f"-h 127.0.0.1 -p {port}",
            "-w",
            "-t",
            "60",
            "start",
        ],
        timeout=90,
    )
    assert result.returncode == 0, result.stderr


def _assert_password_required(data_dir: Path, port: int) -> str:
    password = read_superuser_password(data_dir)
    assert password
    assert stat.S_IMODE(superuser_password_file(data_dir).stat().st_mode) == 0o600
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(**_superuser(port, None))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**_superuser(port, "wrong"))
    hba = (data_dir / "pg_hba.conf").read_text()
    assert hba.startswith(embedded.HBA_MARKER)
    assert "trust" not in hba
    return password


def test_a_running_trust_cluster_migrates_on_start_and_keeps_its_data(scratch_dir):
    data_dir, port = scratch_dir / "pgdata", free_port()
    _init_legacy_cluster(data_dir)
    try:
        _start_legacy(data_dir, port)
        with psycopg.connect(**_superuser(port, None), autocommit=True) as conn:  # the old hole
            conn.execute("create table kept (n int)")
            conn.execute("insert into kept values (7)")
        assert read_superuser_password(data_dir) is None

        embedded.start(data_dir, port)
        password = _assert_password_required(data_dir, port)
        with psycopg.connect(**_superuser(port, password)) as conn:
            assert conn.execute("select n from kept").fetchall() == [(7,)]
            method = conn.execute(
                "select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'postgres'"
            ).fetchone()
            assert method == (True,)

        # a restart changes nothing: same password, still required
        embedded.stop(data_dir, port)
        embedded.start(data_dir, port)
        assert _assert_password_required(data_dir, port) == password
    finally:
        embedded.stop(data_dir, port)


def test_a_stopped_trust_cluster_migrates_on_start(scratch_dir):
    data_dir, port = scratch_dir / "pgdata", free_port()
    _init_legacy_cluster(data_dir)
    try:
        embedded.start(data_dir, port)
        password = _assert_password_required(data_dir, port)
        with psycopg.connect(**_superuser(port, password)) as conn:
            assert conn.execute("select current_user").fetchone() == ("postgres",)
        embedded.stop(data_dir, port)

        # a lost password file is an error that says what to do, not a silent trust
        pw_file = superuser_password_file(data_dir)
        pw_file.rename(pw_file.with_name("kept-aside"))
        with pytest.raises(embedded.EmbeddedServerError, match="password file .* is missing"):
            embedded.start(data_dir, port)
        assert not embedded.status(data_dir, port).running
    finally:
        embedded.stop(data_dir, port)


# --- readers: no temp tables, no tables anywhere ---------------------------------------


@pytest.fixture
def reader_logins(make_database) -> Iterator[tuple[str, dict[str, str]]]:
    """A bootstrapped warehouse database and one login per reader role (dropped after)."""
    url = make_database("auth")
    bootstrap_warehouse(url)
    suffix = uuid.uuid4().hex[:8]
    password = "pw-" + uuid.uuid4().hex
    logins = {group: f"t_{group}_{suffix}" for group in ("bi_reader", "analyst", "tenant_reader")}
    with psycopg.connect(url, autocommit=True) as conn:
        for group, login in logins.items():
            conn.execute(
                sql.SQL("create role {} login password {} in role {}").format(
                    sql.Identifier(login), sql.Literal(password), sql.Identifier(group)
                )
            )
    urls = {
        group: make_conninfo(url, user=login, password=password) for group, login in logins.items()
    }
    yield url, urls
    with psycopg.connect(url, autocommit=True) as conn:
        for login in logins.values():
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


def _denied(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_readers_cannot_create_temp_tables_or_tables_in_any_schema(reader_logins):
    owner_url, urls = reader_logins
    for group, url in urls.items():
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("select 1").fetchone() == (1,), group  # connect is kept
            assert _denied(conn, "create temp table scratch (n int)"), group
            assert _denied(conn, "create schema mine"), group
            schemas = [
                r[0]
                for r in conn.execute(
                    "select nspname from pg_namespace "
                    "where nspname not like 'pg\\_toast%' and nspname not like 'pg\\_temp%' "
                    "order by 1"
                )
            ]
            assert {"public", "raw", "staging", "marts", "snapshots"} <= set(schemas)
            for schema in schemas:
                statement = sql.SQL("create table {}.mine (n int)").format(sql.Identifier(schema))
                assert _denied(conn, statement.as_string(conn)), (group, schema)
            privileges = conn.execute(
                "select has_database_privilege(current_database(), 'temporary'), "
                "has_database_privilege(current_database(), 'create')"
            ).fetchone()
            assert privileges == (False, False), group


def test_the_owner_role_keeps_temp_tables(reader_logins):
    owner_url, _ = reader_logins
    with connect_warehouse(owner_url, autocommit=True) as conn:
        assert conn.execute("select current_user").fetchone() == ("warehouse_owner",)
        conn.execute("create temp table staged (n int)")
        conn.execute("insert into staged values (1), (2)")
        assert conn.execute("select count(*) from staged").fetchone() == (2,)
        conn.execute("create table raw.owner_made (n int)")
        conn.execute("drop table raw.owner_made")
