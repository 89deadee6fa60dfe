"""A newcomer's mistakes get one clear line and a hint, a non-zero exit, no traceback.

Each test runs the real command (``python -m …`` in the project's environment, or ``make``)
against a real server or a closed port, and asserts the exit code and the message.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from crownsync.settings import PROJECT_ROOT, url_parts
from tests.processes import free_port

pytestmark = pytest.mark.timeout(300)

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")
COMMAND_TIMEOUT_S = 120
# What an entry point's environment may carry in from the developer's shell or a fixture
CONFIG_VARIABLES = ("DATABASE_URL", "SOURCE_DATABASE_URL", "LANDING_DIR", "DAGSTER_DATABASE_URL")


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )


def assert_one_clear_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit 2, an ``error:`` line containing every ``expected``, a hint, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], output
    assert any(line.startswith("hint:") for line in result.stderr.splitlines()), output
    return errors[0]


@pytest.fixture
def scratch_url(make_database) -> str:
    return make_database("errors")


def test_a_closed_warehouse_port(tmp_path):
    port = free_port()
    url = f"postgresql://postgres:secret@127.0.0.1:{port}/crownsync_warehouse"
    for command in (
        [PYTHON, "-m", "ingestion", "all"],
        [PYTHON, "-m", "crownsync.warehouse", "start"],  # what `make run` runs first
        [PYTHON, "-m", "orchestration.run", "--skip-simulator"],
    ):
        result = run(command, DATABASE_URL=url, LANDING_DIR=str(tmp_path))
        line = assert_one_clear_error(result, f"127.0.0.1:{port}", "connection refused")
        assert "secret" not in result.stdout + result.stderr, line


def test_a_wrong_password_of_a_non_superuser_role(pg_server_url, scratch_url):
    role = f"probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password 'right-one'").format(sql.Identifier(role))
        )
    try:
        parts = url_parts(scratch_url)
        wrong = f"postgresql://{role}:wrong-one@{parts['host']}:{parts['port']}/{parts['database']}"
        result = run([PYTHON, "-m", "ingestion", "all"], DATABASE_URL=wrong)
        line = assert_one_clear_error(result, "refused the password", repr(role))
        assert "wrong-one" not in result.stdout + result.stderr, line
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def test_not_a_url():
    for command in ([PYTHON, "-m", "ingestion", "all"], [PYTHON, "-m", "serving", "apply"]):
        result = run(command, DATABASE_URL="notaurl")
        assert_one_clear_error(result, "DATABASE_URL is not a PostgreSQL URL: notaurl")


def test_ingest_workers_zero_negative_or_not_an_integer():
    for value in ("0",):  # every bad kind: tests/unit/test_settings.py
        result = run([PYTHON, "-m", "ingestion", "all"], INGEST_WORKERS=value)
        assert_one_clear_error(result, f"INGEST_WORKERS must be a positive integer, got '{value}'")


def test_an_unreachable_source_is_one_line_not_one_per_table(scratch_url, tmp_path):
    port = free_port()
    result = run(
        [PYTHON, "-m", "ingestion", "all"],
        DATABASE_URL=scratch_url,
        SOURCE_DATABASE_URL=f"postgresql://app:pw@127.0.0.1:{port}/crownsync_app",
        LANDING_DIR=str(tmp_path),
    )
    assert_one_clear_error(result, "the source database", f"127.0.0.1:{port}", "refused")
    assert "SOURCE_DATABASE_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # error + hint


def test_a_missing_landing_dir_fails_and_an_empty_one_is_fine(scratch_url, tmp_path):
    missing = tmp_path / "typo-landing"
    result = run(
        [PYTHON, "-m", "ingestion", "exports"], DATABASE_URL=scratch_url, LANDING_DIR=str(missing)
    )
    assert_one_clear_error(result, "LANDING_DIR", str(missing), "does not exist")
    empty = tmp_path / "landing"
    empty.mkdir()
    result = run(
        [PYTHON, "-m", "ingestion", "exports"], DATABASE_URL=scratch_url, LANDING_DIR=str(empty)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new files" in result.stdout


def test_a_tenant_login_for_an_unknown_or_wrong_kind_of_id_is_refused(scratch_url):
    brand, retailer = uuid.uuid4(), uuid.uuid4()
    # the shape serving reads (the real marts are built by dbt in the e2e tests)
    with psycopg.connect(scratch_url, autocommit=True) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.dim_brands (brand_id uuid primary key)")
        conn.execute("create table marts.dim_retailers (retailer_id uuid primary key)")
        conn.execute("insert into marts.dim_brands values (%s)", (brand,))
        conn.execute("insert into marts.dim_retailers values (%s)", (retailer,))
    roles_before = _role_names(scratch_url)
    unknown = uuid.uuid4()
    result = run(
        [PYTHON, "-m", "serving", "tenant-login", "--brand", str(unknown)], DATABASE_URL=scratch_url
    )
    assert_one_clear_error(result, f"no brand {unknown}", "no login created")
    result = run(
        [PYTHON, "-m", "serving", "tenant-login", "--brand", str(retailer)],
        DATABASE_URL=scratch_url,
    )
    assert_one_clear_error(result, f"no brand {retailer}")
    assert f"is a retailer: use RETAILER={retailer}" in result.stderr
    assert _role_names(scratch_url) == roles_before  # refused: no login was created


def _role_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("select rolname from pg_roles")}


def test_a_python_without_the_project_packages_says_how_to_run_it(tmp_path):
    bare = tmp_path / "bare"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run(
        [base, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=COMMAND_TIMEOUT_S
    )
    result = run([str(bare / "bin" / "python"), "-m", "ingestion", "--help"])
    line = assert_one_clear_error(result, "needs the project's environment")
    assert "`.venv/bin/python -m ingestion --help`" in result.stderr, line
    assert "uv run python -m ingestion --help" in result.stderr


def test_ctrl_c_on_the_docs_server_stops_it_quietly():
    port = free_port()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "docs-serve", f"DOCS_PORT={port}"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        from tests.processes import wait_until

        def serving() -> bool:
            with socket.socket() as probe:
                probe.settimeout(1)
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(serving, timeout=90, interval=0.5, what=f"dbt docs to listen on {port}")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "Error" not in output, output  # no "make: *** … Error 130"
    assert "dbt docs server stopped" in output, output
    assert not Path(f"/proc/{proc.pid}").exists()
