"""Every wait of a load is bounded and explained; a killed load never blocks the next one.

The regression test for the hang of issue 10 comes first: after a loader was killed
mid-file, autovacuum left ``raw.orders`` with ``reltuples = 0`` but its pages allocated;
the next load's ``_refresh_current`` then got a quadratic nested-loop plan and ran for
hours. The test recreates that exact catalogue state with ``vacuum (truncate false)``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT, get_settings
from crownsync.warehouse.connections import LockWaitTimeout, connect_warehouse
from ingestion import ledger
from ingestion.api import ingest_export

pytestmark = pytest.mark.integration

RETAILER = "00000000-0000-4000-9000-000000000001"
ORDERS_HEADER = (
    "order_id,line_number,retailer_id,ordered_at,model_mpn,quantity,unit_price,currency,status\n"
)


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _orders_file(landing: Path, n: int) -> Path:
    path = landing / "orders" / "big.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"O{i},1,{RETAILER},2026-10-01T10:00:00Z,M-1,1,10.00,USD,paid\n" for i in range(n)
    )
    path.write_text(ORDERS_HEADER + body)
    stamp = datetime(2026, 10, 1, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _exports_cli(warehouse: str, landing: Path, failpoint: str) -> subprocess.CompletedProcess:
    """The export loader in its own process, killed by itself at ``failpoint``."""
    cmd = [sys.executable, "-m", "ingestion", "exports", "--exports", "orders"]
    cmd += ["--warehouse-url", warehouse, "--landing-dir", str(landing), "-q"]
    return subprocess.run(
        cmd,
        cwd=PROJECT_ROOT,
        env={**os.environ, "CROWNSYNC_FAILPOINT": failpoint},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def settings_env(monkeypatch):
    """Set settings through the environment for one test (settings are cached)."""

    def _set(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield _set
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.timeout(300)
def test_rerun_after_kill_and_autovacuum_is_not_quadratic(make_database, tmp_path, settings_env):
    warehouse = make_database("wh")
    landing = tmp_path / "landing"
    _orders_file(landing, 150_000)

    killed = _exports_cli(warehouse, landing, "export.copied")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # what autovacuum did after the kill: the rolled-back rows cleaned, pages kept
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("vacuum (truncate false) raw.orders")
        reltuples, relpages = conn.execute(
            "select reltuples, relpages from pg_class where oid = 'raw.orders'::regclass"
        ).fetchone()
    assert (reltuples, relpages > 0) == (0, True)  # the state that planned the nested loop

    # a quadratic plan would run for hours; a bounded statement turns that into a failure
    settings_env(STATEMENT_TIMEOUT_SECONDS="120")
    [result] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    assert (result.status, result.rows_loaded) == ("loaded", 150_000)
    assert _rows(warehouse, "select count(*), count(distinct order_id) from raw.orders") == [
        (150_000, 150_000)
    ]
    assert _rows(warehouse, "select count(*) from raw.orders where _is_current") == [(150_000,)]
    assert _rows(warehouse, "select status from raw._loads order by load_id") == [
        ("abandoned",),
        ("succeeded",),
    ]


def test_a_killed_loads_running_row_is_recognised_at_once(make_database, tmp_path):
    warehouse = make_database("wh")
    landing = tmp_path / "landing"
    _orders_file(landing, 100)
    killed = _exports_cli(warehouse, landing, "export.locked")
    assert killed.returncode == -signal.SIGKILL
    assert _rows(warehouse, "select status from raw._loads") == [("running",)]

    # No new load of that export is needed: any look at the ledger recognises it, as soon
    # as the server has seen the client go (bounded poll, never a fixed sleep).
    deadline = time.monotonic() + 30
    with connect_warehouse(warehouse, autocommit=True) as conn:
        while not ledger.abandon_dead_loads(conn):
            assert time.monotonic() < deadline, "the dead load was never recognised"
            time.sleep(0.05)
    [(status, error)] = _rows(warehouse, "select status, error from raw._loads")
    assert status == "abandoned"
    assert "crash or kill" in error
    assert _rows(warehouse, "select count(*) from raw._files") == [(0,)]


def test_a_live_load_is_never_marked_abandoned(make_database):
    warehouse = make_database("wh")
    from ingestion.api import prepare_warehouse

    prepare_warehouse(warehouse)
    with (
        connect_warehouse(warehouse, autocommit=True) as running,
        connect_warehouse(warehouse, autocommit=True) as other,
    ):
        load_id = ledger.start_load(running, "orders", "export")
        assert ledger.abandon_dead_loads(other) == 0
        assert _rows(warehouse, "select status from raw._loads where load_id = %s", (load_id,)) == [
            ("running",)
        ]


def test_a_second_load_waits_boundedly_and_names_the_holder(
    make_database, tmp_path, settings_env, caplog
):
    warehouse = make_database("wh")
    landing = tmp_path / "landing"
    _orders_file(landing, 10)
    [first] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    assert first.status == "loaded"
    (landing / "orders" / "second.csv").write_text(
        ORDERS_HEADER + f"O-late,1,{RETAILER},2026-10-02T10:00:00Z,M-1,1,10.00,USD,paid\n"
    )
    settings_env(INGEST_LOCK_WAIT_SECONDS="2")
    # another load of the export, as a loader holds it: a running ledger row and the lock
    with (
        connect_warehouse(warehouse, autocommit=True) as recorder,
        connect_warehouse(warehouse) as holder,
    ):
        holder_load = ledger.start_load(recorder, "export:orders/other.csv", "export")
        key = (ledger._LOCK_NAMESPACE, ledger._lock_key("export:orders"))
        holder.execute("select pg_advisory_xact_lock(%s, %s)", key)
        holder_pid = holder.info.backend_pid
        with (
            caplog.at_level(logging.WARNING, logger="ingestion"),
            pytest.raises(LockWaitTimeout) as failure,
        ):
            ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    message = str(failure.value)
    # when, where and which load — read from the holder's ledger row, visible to any role
    assert re.match(r"raw\.orders: another load holds the lock since \d\d:\d\d:\d\d ", message)
    holder_text = f"(pid {holder_pid}, host {socket.gethostname()}, load {holder_load})"
    assert holder_text in message
    assert "INGEST_LOCK_WAIT_SECONDS" in message
    waits = [r.getMessage() for r in caplog.records if "another load holds the lock" in r.msg]
    assert waits and f"pid {holder_pid}" in waits[0] and "then failing" in waits[0]
    # nothing of the second file was loaded or recorded; the next run takes it
    assert _rows(warehouse, "select count(*) from raw._files") == [(1,)]
    [late] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing)
    assert (late.file_name, late.status, late.rows_loaded) == ("second.csv", "loaded", 1)


def test_pipeline_sessions_carry_the_configured_bounds(make_database, settings_env):
    warehouse = make_database("wh")
    settings_env(
        STATEMENT_TIMEOUT_SECONDS="1",
        LOCK_TIMEOUT_SECONDS="7",
        IDLE_IN_TRANSACTION_TIMEOUT_SECONDS="9",
    )
    with connect_warehouse(warehouse, autocommit=True) as conn:
        shown = {
            name: conn.execute(f"show {name}").fetchone()[0]
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        }
        assert shown == {
            "statement_timeout": "1s",
            "lock_timeout": "7s",
            "idle_in_transaction_session_timeout": "9s",
        }
        if conn.info.server_version >= 140000:
            assert conn.execute("show client_connection_check_interval").fetchone()[0] == "5s"
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("select pg_sleep(5)")
    assert "-c statement_timeout=1s" in get_settings().pgoptions()  # what dbt sessions get


def test_serving_gives_up_on_a_locked_mart_and_says_so(make_database, settings_env):
    from ingestion.api import prepare_warehouse
    from serving.grants import ServingLockTimeout, apply_access

    warehouse = make_database("wh")
    prepare_warehouse(warehouse)
    with connect_warehouse(warehouse, autocommit=True) as conn:
        conn.execute("create table marts.demo (brand_id uuid, n int)")
        conn.execute("insert into marts.demo values (null, 1)")
    settings_env(LOCK_TIMEOUT_SECONDS="1")
    with psycopg.connect(warehouse) as reader:  # a long reader transaction on the mart
        reader.execute("select count(*) from marts.demo").fetchone()
        with connect_warehouse(warehouse) as conn, pytest.raises(ServingLockTimeout) as failure:
            apply_access(conn)
    assert str(failure.value).startswith("serving: could not lock the marts within 1s")
    assert "Nothing was published" in str(failure.value)
    with connect_warehouse(warehouse, autocommit=True) as conn:  # and it was all rolled back
        assert not conn.execute(
            "select relrowsecurity from pg_class where oid = 'marts.demo'::regclass"
        ).fetchone()[0]
        apply_access(conn)  # once the reader is gone it publishes
        assert conn.execute(
            "select relrowsecurity from pg_class where oid = 'marts.demo'::regclass"
        ).fetchone()[0]
