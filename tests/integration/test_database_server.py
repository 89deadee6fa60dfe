"""The warehouse server: the embedded one over TCP, and any other one via DATABASE_URL."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from crownsync.warehouse import embedded
from crownsync.warehouse.credentials import read_superuser_password, superuser_password_file
from tests.fixtures.tiny_source import build_tiny_source
from tests.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch_dir():
    # inside the project: the server's OS user must be able to traverse to it
    path = PROJECT_ROOT / ".warehouse" / f"scratch-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_embedded_server_listens_on_tcp_and_keeps_data_across_restart(scratch_dir):
    data_dir, port = scratch_dir / "pgdata", free_port()
    env = {**os.environ, "WAREHOUSE_PG_DIR": str(data_dir), "WAREHOUSE_PG_PORT": str(port)}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "crownsync.warehouse"]
    try:
        started = subprocess.run(
            [*cli, "start"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300
        )
        assert started.returncode == 0, started.stderr
        assert "crownsync_warehouse" in started.stdout
        password = read_superuser_password(data_dir)
        assert password and password not in started.stdout
        url = f"postgresql://postgres:{password}@127.0.0.1:{port}/crownsync_warehouse"
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.info.host == "127.0.0.1"  # TCP, not a unix socket
            assert conn.execute("show server_version_num").fetchone()[0].startswith("18")
            conn.execute("create table kept (n int)")
            conn.execute("insert into kept values (42)")
            dbs = {r[0] for r in conn.execute("select datname from pg_database")}
        assert {"crownsync_warehouse", "crownsync_dagster", "crownsync_app"} <= dbs
        status = subprocess.run(
            [*cli, "status"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60
        )
        assert "running" in status.stdout
        assert f"postgresql://postgres:***@127.0.0.1:{port}/crownsync_warehouse" in status.stdout
        assert str(superuser_password_file(data_dir)) in status.stdout
        assert password not in status.stdout

        stopped = subprocess.run([*cli, "stop"], env=env, cwd=PROJECT_ROOT, timeout=120)
        assert stopped.returncode == 0
        assert not embedded.status(data_dir, port).running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)

        restarted = subprocess.run([*cli, "start"], env=env, cwd=PROJECT_ROOT, timeout=300)
        assert restarted.returncode == 0
        with psycopg.connect(url) as conn:
            assert conn.execute("select n from kept").fetchall() == [(42,)]
    finally:
        embedded.stop(data_dir, port)


def _pg15_bindir() -> Path | None:
    try:
        bindir = Path(
            subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    if not (bindir / "postgres").exists() or not (bindir / "initdb").exists():
        return None
    version = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    return bindir if " 15." in version else None


@pytest.fixture
def pg15_server(scratch_dir):
    """Debian's PostgreSQL 15, started as a non-root user on a free TCP port."""
    bindir = _pg15_bindir()
    if bindir is None:
        pytest.skip("Debian's PostgreSQL 15 server (package postgresql-15) is not installed")
    data_dir, port = scratch_dir / "pg15", free_port()
    data_dir.mkdir()
    run_as: dict = {}
    if os.geteuid() == 0:
        embedded._prepare_permissions(data_dir)  # creates the unprivileged OS user, chowns the dir
        entry = pwd.getpwnam(embedded.SERVICE_USER)
        run_as = {
            "user": entry.pw_uid,
            "group": entry.pw_gid,
            "env": {**os.environ, "HOME": "/tmp"},
        }
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        timeout=300,
        **run_as,
    )
    subprocess.run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(data_dir / "log"),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k ''",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=300,
        **run_as,
    )
    yield f"postgresql://postgres@127.0.0.1:{port}"
    subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        capture_output=True,
        timeout=120,
        **run_as,
    )


def test_database_url_is_honoured_on_another_server(pg15_server, tmp_path):
    server = pg15_server
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        assert conn.execute("show server_version_num").fetchone()[0].startswith("15")
        conn.execute("create database app_src")
    build_tiny_source(f"{server}/app_src", n_sends=25)
    landing = tmp_path / "landing"
    landing.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/wh_on_15",
        "SOURCE_DATABASE_URL": f"{server}/app_src",
        "LANDING_DIR": str(landing),
        "WAREHOUSE_PG_PORT": "1",  # the embedded server must not be touched
    }
    started = subprocess.run(
        [sys.executable, "-m", "crownsync.warehouse", "start"],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr
    assert "DATABASE_URL is set" in started.stdout
    loaded = subprocess.run(
        [sys.executable, "-m", "ingestion", "all", "--tables", "retailers,email_sends"],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    with psycopg.connect(f"{server}/wh_on_15") as conn:
        assert conn.execute("select count(*) from raw.retailers").fetchone()[0] == 10
        assert conn.execute("select count(*) from raw.email_sends").fetchone()[0] == 25
    # the real source was only read: no simulator state, no extra tables
    with psycopg.connect(f"{server}/app_src") as conn:
        assert conn.execute("select to_regnamespace('simulator')").fetchone()[0] is None
    refused = subprocess.run(
        [sys.executable, "-m", "simulator", "--scale", "0.01"],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert refused.returncode == 2 and "read-only" in refused.stderr
