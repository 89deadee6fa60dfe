"""Ingestion faults from outside the loader: kills mid-statement, a vanishing source, two
loaders at once, a table that cannot be written.

Every kill is triggered on an observed server state (``pg_stat_activity``), never on a
sleep: a statement held on a row lock by a blocker session, or a COPY frozen by stopping
the loader (SIGSTOP) while the server is inside it.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import psycopg
import pytest

from ingestion.api import ingest_app_table, ingest_export
from tests.drills.conftest import (
    backends,
    cli_env,
    finish,
    reap,
    rows,
    scalar,
    start_forked,
    table_digest,
    wait_for,
)
from tests.drills.test_kill_app_db import (
    DELETED_ID,
    N_INSERTED,
    N_UPDATED,
    TABLE,
    assert_raw_equals_source,
    load_statuses,
    reset,
)
from tests.drills.test_kill_exports import HEADER, RETAILER
from tests.fixtures.tiny_source import build_tiny_source

pytestmark = [pytest.mark.drill, pytest.mark.integration]

BIG_SENDS = 120_000  # ≈ 29 MB (binary COPY): a COPY that lasts long enough to be seen and frozen


def app_db_cmd(source: str, warehouse: str, *extra: str) -> list[str]:
    return [
        "app-db",
        "--tables",
        TABLE,
        "--warehouse-url",
        warehouse,
        "--source-url",
        source,
        *extra,
    ]


def loader_backend_gone(warehouse: str, pid: int) -> bool:
    return not rows(warehouse, "select 1 from pg_stat_activity where pid = %s", (pid,))


@pytest.fixture(scope="module")
def module_dbs(make_database):
    """One small source (4,000 sends, with a pristine copy), one warehouse: reset per drill."""
    source, warehouse = make_database("drsrc"), make_database("drwh")
    build_tiny_source(source, n_sends=4000)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(f"create table {TABLE}_base as table {TABLE}")  # noqa: S608
    return source, warehouse


@pytest.fixture
def incremental_world(module_dbs):
    """The source loaded once, then changed (updates, inserts, a hard delete)."""
    source, warehouse = module_dbs
    reset(source, warehouse, first_load_done=True, changes=True)
    return source, warehouse


@pytest.fixture
def empty_warehouse(module_dbs) -> str:
    warehouse = module_dbs[1]
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
    return warehouse


@pytest.fixture(scope="module")
def big_source(make_database) -> str:
    source = make_database("drbig")
    build_tiny_source(source, n_sends=BIG_SENDS)
    return source


BLOCKED_STATEMENTS = {
    # statement text the loader's backend shows, row the blocker locks
    # the upsert; for a table with change keys it opens with the change capture (its text
    # is longer than pg_stat_activity keeps, so match its start)
    "mid-merge": ("old_groups as (", "order by send_id limit 1"),
    "mid-delete-marking": (
        "set _deleted_at = now()",
        f"and send_id = '00000000-0000-4000-c000-{DELETED_ID:012d}'",
    ),
}


@pytest.mark.parametrize("statement", list(BLOCKED_STATEMENTS))
def test_kill_loader_while_its_backend_runs_a_statement(statement, incremental_world, drill):
    source, warehouse = incremental_world
    query_text, row_filter = BLOCKED_STATEMENTS[statement]
    before = table_digest(warehouse, f"raw.{TABLE}", "send_id")
    watermark = rows(warehouse, "select watermark from raw._watermarks")
    blocker = psycopg.connect(warehouse)
    proc = start_forked(app_db_cmd(source, warehouse, "--check-deletes"))
    try:
        blocker.execute(
            f"select 1 from raw.{TABLE} where true {row_filter} for update"  # noqa: S608
        )
        [(pid, _, wait, _)] = wait_for(
            lambda: [b for b in backends(warehouse, query_text) if b[2] == "Lock"],
            f"the loader's backend to wait on the row lock inside {query_text!r}",
        )
        assert wait == "Lock"  # inside the statement, held on the blocker's row lock
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # the server notices the dead client while the statement still waits
        # (client_connection_check_interval) — or at the latest when the lock is released
        try:
            wait_for(lambda: loader_backend_gone(warehouse, pid), "the backend to end", 10)
            drill["backend_ended_while_blocked"] = True
        except AssertionError:
            drill["backend_ended_while_blocked"] = False
        blocker.rollback()
        wait_for(lambda: loader_backend_gone(warehouse, pid), "the killed loader's backend")
    finally:
        blocker.close()
        reap(proc)

    assert table_digest(warehouse, f"raw.{TABLE}", "send_id") == before
    assert rows(warehouse, "select watermark from raw._watermarks") == watermark
    with drill.timed("recovery"):
        result = ingest_app_table(
            TABLE, warehouse_url=warehouse, source_url=source, check_deletes=True
        )
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (
        N_INSERTED,
        N_UPDATED,
        1,
    )
    assert_raw_equals_source(source, warehouse, deleted=1)
    assert load_statuses(warehouse) == ["succeeded", "abandoned", "succeeded"]


def freeze_inside(proc, url: str, query_text: str, application_name: str) -> int:
    """SIGSTOP ``proc`` while its backend on ``url`` is inside ``query_text``; its pid.

    A frozen client cannot finish a COPY FROM STDIN, so once the backend is seen inside it
    after the stop, it stays there: the kill that follows is mid-statement for sure.
    """
    for _ in range(50):
        found = wait_for(
            lambda: backends(url, query_text, application_name) or proc.poll() is not None,
            f"a backend running {query_text!r}",
        )
        assert proc.poll() is None, f"the loader ended before {query_text!r} was seen"
        os.kill(proc.pid, signal.SIGSTOP)
        still = backends(url, query_text, application_name)
        if still:
            return still[0][0]
        os.kill(proc.pid, signal.SIGCONT)  # it had just left the statement: look again
        del found
    raise AssertionError(f"never caught {query_text!r} with the loader stopped")


def test_kill_mid_copy_into_raw_first_load(big_source, empty_warehouse, drill):
    warehouse = empty_warehouse
    proc = start_forked(app_db_cmd(big_source, warehouse))
    try:
        pid = freeze_inside(proc, warehouse, 'copy "raw"', "crownsync-ingestion")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: loader_backend_gone(warehouse, pid), "the killed loader's backend", 60)
    finally:
        reap(proc)
    assert scalar(warehouse, f"select to_regclass('raw.{TABLE}') is null")
    assert rows(warehouse, "select count(*) from raw._watermarks") == [(0,)]
    with drill.timed("recovery"):
        result = ingest_app_table(TABLE, warehouse_url=warehouse, source_url=big_source)
    assert result.rows_inserted == BIG_SENDS
    assert_raw_equals_source(big_source, warehouse, deleted=0)
    assert load_statuses(warehouse) == ["abandoned", "succeeded"]


def test_source_vanishes_mid_extract(big_source, empty_warehouse, drill):
    """The source backend is terminated while the loader COPYs from it."""
    warehouse = empty_warehouse
    proc = start_forked(app_db_cmd(big_source, warehouse))
    try:
        source_pid = freeze_inside(proc, big_source, "copy (select", "crownsync-ingestion")
        assert scalar(big_source, "select pg_terminate_backend(%s)", (source_pid,))
        os.kill(proc.pid, signal.SIGCONT)
        done = finish(proc, timeout=120)
    finally:
        reap(proc)
    assert done.returncode == 1, done.output
    failed = [line for line in done.output.splitlines() if line.startswith("FAILED")]
    assert failed and f"app_db.{TABLE}" in failed[0], done.output
    drill["message"] = failed[0][:200]
    # nothing written, the load recorded as failed with the reason
    assert scalar(warehouse, f"select to_regclass('raw.{TABLE}') is null")
    assert rows(warehouse, "select count(*) from raw._watermarks") == [(0,)]
    [(status, error)] = rows(warehouse, "select status, error from raw._loads")
    assert status == "failed" and error
    with drill.timed("recovery"):
        result = ingest_app_table(TABLE, warehouse_url=warehouse, source_url=big_source)
    assert result.rows_inserted == BIG_SENDS
    assert_raw_equals_source(big_source, warehouse, deleted=0)
    assert load_statuses(warehouse) == ["failed", "succeeded"]


def _write(path: Path, lines: list[str], day: int) -> None:
    from datetime import UTC, datetime

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(lines))
    stamp = datetime(2026, 10, day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))


def _order_lines(prefix: str, n: int, status: str = "paid") -> list[str]:
    return [
        f"{prefix}{i},1,{RETAILER},2026-10-01T10:00:00Z,M-{i % 7},1,10.00,USD,{status}\n"
        for i in range(n)
    ]


def _exports_cmd(warehouse: str, landing: Path) -> list[str]:
    return [
        "exports",
        "--exports",
        "orders",
        "--warehouse-url",
        warehouse,
        "--landing-dir",
        str(landing),
    ]


def test_kill_mid_export_copy(empty_warehouse, tmp_path, drill):
    warehouse, landing = empty_warehouse, tmp_path / "landing"
    _write(landing / "orders" / "big.csv", _order_lines("B", 20_000), day=1)
    proc = start_forked(_exports_cmd(warehouse, landing))
    try:
        pid = freeze_inside(proc, warehouse, 'copy "raw"."orders"', "crownsync-ingestion")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: loader_backend_gone(warehouse, pid), "the killed loader's backend", 60)
    finally:
        reap(proc)
    assert rows(warehouse, "select count(*) from raw._files") == [(0,)]
    assert rows(warehouse, "select count(*) from raw.orders") == [(0,)]
    with drill.timed("recovery"):
        [result] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    assert (result.status, result.rows_loaded) == ("loaded", 20_000)
    assert rows(warehouse, "select count(*), count(distinct _key) from raw.orders") == [
        (20_000, 20_000)
    ]
    assert [s for (s,) in rows(warehouse, "select status from raw._loads order by 1")] == [
        "abandoned",
        "succeeded",
    ]


def test_kill_mid_refresh_current(empty_warehouse, tmp_path, drill):
    """Killed inside _refresh_current (the statement of issue 10's hang), held on a row lock."""
    warehouse, landing = empty_warehouse, tmp_path / "landing"
    _write(landing / "orders" / "day1.csv", _order_lines("R", 2000), day=1)
    ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    _write(landing / "orders" / "day2.csv", _order_lines("R", 100, "refunded"), day=2)
    before = table_digest(warehouse, "raw.orders", "_row_id")
    blocker = psycopg.connect(warehouse)
    proc = start_forked(_exports_cmd(warehouse, landing))
    try:
        blocker.execute("select 1 from raw.orders where _key = 'R0|1' for update")
        [(pid, _, wait, _)] = wait_for(
            lambda: [b for b in backends(warehouse, "with ranked as") if b[2] == "Lock"],
            "the loader's backend inside _refresh_current",
        )
        assert wait == "Lock"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        blocker.rollback()
        wait_for(lambda: loader_backend_gone(warehouse, pid), "the killed loader's backend")
    finally:
        blocker.close()
        reap(proc)
    assert table_digest(warehouse, "raw.orders", "_row_id") == before
    assert rows(warehouse, "select file_name from raw._files") == [("day1.csv",)]
    with drill.timed("recovery"):
        [result] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    assert (result.file_name, result.status, result.rows_loaded) == ("day2.csv", "loaded", 100)
    assert rows(
        warehouse,
        "select count(*), count(distinct _key), count(*) filter (where _is_current), "
        "count(*) filter (where _is_current and status = 'refunded') from raw.orders",
    ) == [(2100, 2000, 2000, 100)]


class _Lines:
    """Collects a process's output lines in a thread (so a drill can wait for one)."""

    def __init__(self, proc):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        self._thread.join(timeout=30)
        return "".join(self.lines)


def test_two_loaders_of_the_same_table(big_source, empty_warehouse, drill):
    """The second waits (saying who holds the lock) or, past its wait limit, refuses."""
    warehouse = empty_warehouse
    first = start_forked(app_db_cmd(big_source, warehouse))
    impatient = waiting = None
    try:
        freeze_inside(first, warehouse, 'copy "raw"', "crownsync-ingestion")  # holds the lock
        impatient = start_forked(
            app_db_cmd(big_source, warehouse), env=cli_env(INGEST_LOCK_WAIT_SECONDS="2")
        )
        refused = finish(impatient, timeout=120)
        assert refused.returncode == 1, refused.output
        assert "another load holds the lock" in refused.output, refused.output
        failed = [line for line in refused.output.splitlines() if line.startswith("FAILED")]
        assert len(failed) == 1 and f"raw.{TABLE}" in failed[0], refused.output
        drill["refusal"] = failed[0][:200]

        waiting = start_forked(app_db_cmd(big_source, warehouse))
        output = _Lines(waiting)
        wait_for(
            lambda: any("another load holds the lock" in line for line in output.lines),
            "the second loader to say it waits for the lock",
            60,
        )
        os.kill(first.pid, signal.SIGCONT)
        assert finish(first).returncode == 0
        assert waiting.wait(timeout=120) == 0, output.text()
    finally:
        for proc in (first, impatient, waiting):
            if proc is not None:
                reap(proc)
    # the same data as after one run: no doubled rows
    assert_raw_equals_source(big_source, warehouse, deleted=0)
    loads = rows(
        warehouse,
        "select status, rows_inserted from raw._loads where target = %s order by load_id",
        (TABLE,),
    )
    assert sorted(loads) == sorted([("succeeded", BIG_SENDS), ("succeeded", 0), ("failed", 0)])


@pytest.mark.parametrize("kind", ["app_db", "export"])
def test_a_table_that_cannot_be_written(kind, incremental_world, tmp_path, drill):
    """insert revoked on the raw table: a clear error, nothing marked loaded."""
    source, warehouse = incremental_world
    landing = tmp_path / "landing"
    _write(landing / "orders" / "day1.csv", _order_lines("W", 50), day=1)
    ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    _write(landing / "orders" / "day2.csv", _order_lines("V", 50), day=2)
    table = TABLE if kind == "app_db" else "orders"
    ledger_before = rows(warehouse, "select * from raw._watermarks")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"revoke insert on raw.{table} from warehouse_owner")
    cmd = (
        app_db_cmd(source, warehouse, "--check-deletes")
        if kind == "app_db"
        else _exports_cmd(warehouse, landing)
    )
    proc = start_forked(cmd)
    try:
        done = finish(proc)
    finally:
        reap(proc)
    assert done.returncode == 1, done.output
    failed = [line for line in done.output.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "permission denied" in failed[0] and table in failed[0], done.output
    drill["message"] = failed[0][:200]
    last = rows(warehouse, "select target, status from raw._loads order by load_id desc limit 1")
    assert last[0][1] == "failed"
    assert rows(warehouse, "select * from raw._watermarks") == ledger_before
    assert rows(warehouse, "select file_name from raw._files order by 1") == [("day1.csv",)]

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"grant insert on raw.{table} to warehouse_owner")
    with drill.timed("recovery"):
        if kind == "app_db":
            ingest_app_table(TABLE, warehouse_url=warehouse, source_url=source, check_deletes=True)
            assert_raw_equals_source(source, warehouse, deleted=1)
        else:
            [result] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
            assert (result.file_name, result.rows_loaded) == ("day2.csv", 50)
            assert rows(warehouse, "select count(*), count(distinct _key) from raw.orders") == [
                (100, 100)
            ]
