"""Fault drills: shared helpers (subprocess loaders, bounded waits, ledger snapshots, timings).

Every drill starts real processes against the real PostgreSQL (the test server of
``tests/conftest.py``, or a dedicated embedded server for the restart drills), breaks them at
a deterministic point, then checks the warehouse and that a normal run recovers.

Timings (recovery = the normal re-run after the fault) are collected into
``.warehouse/drills/drill-results.json`` at the end of the session (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from crownsync.settings import PROJECT_ROOT
from tests.conftest import _with_database
from tests.processes import free_port

RESULTS_FILE = PROJECT_ROOT / ".warehouse" / "drills" / "drill-results.json"
SUBPROCESS_TIMEOUT = 120  # seconds any drill subprocess may run
_results: dict[str, dict] = {}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/drills/" in item.nodeid:
            item.add_marker(pytest.mark.drill)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and item.nodeid in _results:
        _results[item.nodeid]["outcome"] = report.outcome
        _results[item.nodeid]["seconds_total"] = round(report.duration, 2)


def pytest_sessionfinish(session):
    if not _results:
        return
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    previous = {}
    if RESULTS_FILE.exists():
        try:
            previous = json.loads(RESULTS_FILE.read_text())
        except ValueError:
            previous = {}
    previous.update(_results)
    RESULTS_FILE.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")


@dataclass
class DrillRecord:
    """What one drill measured: filled by the drill, saved by the session hook."""

    data: dict

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.data[f"{name}_s"] = round(time.monotonic() - began, 2)

    def __setitem__(self, key: str, value) -> None:
        self.data[key] = value


@pytest.fixture
def drill(request) -> DrillRecord:
    record = DrillRecord(data={})
    _results[request.node.nodeid] = record.data
    return record


# --- SQL helpers ---------------------------------------------------------------------------


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=10) as conn:
        return conn.execute(query, params).fetchall()


def scalar(url: str, query: str, params: tuple = ()):
    return rows(url, query, params)[0][0]


def table_exists(url: str, qualified_name: str) -> bool:
    return bool(scalar(url, "select to_regclass(%s) is not null", (qualified_name,)))


def table_digest(url: str, qualified_name: str, order_by: str) -> tuple[int, str] | None:
    """(row count, md5 of every column of every row): ``None`` when the table is missing."""
    if not table_exists(url, qualified_name):
        return None
    schema, name = qualified_name.split(".")
    query = sql.SQL(
        "select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by {o})), '') from {t} t"
    ).format(o=sql.SQL(order_by), t=sql.Identifier(schema, name))
    with psycopg.connect(url) as conn:
        count, digest = conn.execute(query).fetchone()
    return int(count), digest


def ledger(url: str) -> dict[str, object]:
    """The raw bookkeeping, for before/after comparisons (load statuses by target, files…)."""
    if not table_exists(url, "raw._loads"):
        return {"loads": [], "files": [], "watermarks": []}
    return {
        "loads": rows(url, "select load_id, target, status from raw._loads order by load_id"),
        "files": rows(
            url,
            "select file_id, export, file_name, status, rows_loaded, rows_rejected "
            "from raw._files order by file_id",
        ),
        "watermarks": rows(
            url,
            "select table_name, watermark, load_id, deletes_checked_at is not null "
            "from raw._watermarks order by 1",
        ),
    }


# --- waits and processes -------------------------------------------------------------------


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30, every=0.01):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except psycopg.Error as err:  # the server may be restarting, the table not there yet
            last_error, value = err, None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}"
        + (f" (last error: {last_error})" if last_error else "")
    )


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("CROWNSYNC_FAILPOINT", None)
    env.update(extra)
    return env


def ingestion_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ingestion", *args]


@dataclass
class Finished:
    returncode: int
    output: str


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=env or cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, timeout: float = SUBPROCESS_TIMEOUT) -> Finished:
    """Wait for ``proc`` (bounded); on timeout kill it and fail with its output."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.output or ""
        reap(proc)
        raise AssertionError(f"{proc.args!r} still running after {timeout}s:\n{out}") from None
    return Finished(proc.returncode, out or "")


def reap(proc: subprocess.Popen) -> None:
    """Kill (SIGKILL, also if stopped) and wait: no drill leaves a process behind."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    for stream in (proc.stdout, proc.stderr):
        if stream and not stream.closed:
            with suppress(OSError):
                stream.close()


def run(
    cmd: list[str], env: dict[str, str] | None = None, timeout: float = SUBPROCESS_TIMEOUT
) -> Finished:
    proc = start(cmd, env)
    try:
        return finish(proc, timeout)
    finally:
        reap(proc)


class ForkedCli:
    """``python -m ingestion <argv>`` in a forked child of this (already warm) interpreter.

    A real process with its own connections, stopped and killed for real: only the 2–5 s
    interpreter start and imports of a fresh ``python -m ingestion`` are skipped, which is
    what lets ~50 kill points fit the suite's time budget. Quacks like ``subprocess.Popen``
    for :func:`finish` and :func:`reap` (pid, poll, wait, communicate, stdout).
    """

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.args = ["python", "-m", "ingestion", *argv]
        self.returncode: int | None = None
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            os.close(read_fd)
            self._child(argv, env, write_fd)
        os.close(write_fd)
        self.pid = pid
        self.stdout = os.fdopen(read_fd, "r", errors="replace")
        self.stderr = None

    @staticmethod
    def _child(argv: list[str], env: dict[str, str], write_fd: int) -> None:
        import logging

        code = 1
        try:
            os.setsid()
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            os.environ.clear()
            os.environ.update(env)
            from crownsync.settings import get_settings
            from ingestion import failpoints
            from ingestion.__main__ import main

            failpoints._armed = failpoints._UNREAD
            failpoints._passes.clear()
            get_settings.cache_clear()
            root = logging.getLogger()
            for handler in list(root.handlers):
                root.removeHandler(handler)
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _set(self, status: int) -> int:
        self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if done:
                self._set(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.01)
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, None]:
        import select

        chunks: list[str] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                data = os.read(fd, 65536)
                if data:
                    chunks.append(data.decode(errors="replace"))
                    continue
                self.wait(timeout=30)
                break
            if self.poll() is not None:
                while data := os.read(fd, 65536):
                    chunks.append(data.decode(errors="replace"))
                break
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout, output="".join(chunks))
        return "".join(chunks), None


def start_forked(argv: list[str], env: dict[str, str] | None = None) -> ForkedCli:
    return ForkedCli(argv, env or cli_env())


def run_forked_cli(
    argv: list[str], env: dict[str, str], timeout: float = SUBPROCESS_TIMEOUT
) -> Finished:
    proc = start_forked(argv, env)
    try:
        return finish(proc, timeout)
    finally:
        reap(proc)


def backends(url: str, like: str, application_name: str = "crownsync-ingestion") -> list[tuple]:
    """Active backends of ``url``'s database whose query contains ``like`` (case-insensitive)."""
    return rows(
        url,
        "select pid, state, wait_event_type, left(query, 120) from pg_stat_activity "
        "where datname = current_database() and pid <> pg_backend_pid() "
        "and application_name = %s and state = 'active' and query ilike %s",
        (application_name, f"%{like}%"),
    )


def database_backends(url: str) -> int:
    return int(
        scalar(
            url,
            "select count(*) from pg_stat_activity where datname = current_database() "
            "and pid <> pg_backend_pid() and backend_type = 'client backend'",
        )
    )


# --- scratch databases from templates --------------------------------------------------------


@pytest.fixture(scope="session")
def clone_database(pg_server_url: str) -> Iterator[Callable[[str, str], str]]:
    """``clone_database(template_url, prefix)``: a copy of a scratch database (fast)."""
    made: list[str] = []

    def _clone(template_url: str, prefix: str) -> str:
        template = template_url.rsplit("/", 1)[1]
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("create database {} template {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        made.append(name)
        return _with_database(pg_server_url, name)

    yield _clone
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def kill_and_wait(proc: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def repo_path(*parts: str) -> Path:
    return PROJECT_ROOT.joinpath(*parts)


# --- a dedicated server for the restart drills -----------------------------------------------


@dataclass(frozen=True)
class DedicatedServer:
    data_dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        from sqlalchemy.engine import URL

        from crownsync.warehouse.credentials import read_superuser_password

        return URL.create(
            "postgresql",
            username="postgres",
            password=read_superuser_password(self.data_dir),
            host="127.0.0.1",
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return self.url(name)

    def restart_immediate(self) -> float:
        """``pg_ctl restart -m immediate`` (a crash: no checkpoint, clients cut); seconds."""
        from crownsync.warehouse import embedded

        # Make what was committed before the drill durable first: the embedded server runs
        # with synchronous_commit = off, so a crash may lose the last ~0.5 s of commits —
        # here the drill's own setup (the source it just built), not the load under test,
        # whose transaction is still open and must be rolled back by the crash.
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute("checkpoint")
        began = time.monotonic()
        result = embedded._run_as_service(
            [
                str(embedded.bin_path("pg_ctl")),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
                "restart",
            ],
            timeout=120,
        )
        assert result.returncode == 0, f"pg_ctl restart failed: {result.stdout}{result.stderr}"
        wait_for(lambda: scalar(self.url(), "select 1"), "the restarted server", 60)
        return time.monotonic() - began


@pytest.fixture(scope="session")
def dedicated_server() -> Iterator[DedicatedServer]:
    """An embedded server of its own (restarted by drills), stopped and deleted at the end."""
    from tests.conftest import EXTERNAL_SERVER

    if EXTERNAL_SERVER:
        pytest.skip("DATABASE_URL is set: the restart drills never restart a user's server")
    import shutil

    from crownsync.warehouse import embedded

    port = free_port()
    data_dir = PROJECT_ROOT / ".warehouse" / f"drill-pgdata-{port}"
    embedded.start(data_dir, port)
    try:
        yield DedicatedServer(data_dir, port)
    finally:
        try:
            embedded.stop(data_dir, port)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
            for leftover in data_dir.parent.glob(f"{data_dir.name}.*"):  # its password file
                leftover.unlink(missing_ok=True)
