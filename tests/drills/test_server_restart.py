"""The warehouse server stops mid-run (``pg_ctl restart -m immediate``) during ingestion.

On a dedicated embedded server (never the shared test server, never a user's
DATABASE_URL). The restart during dbt is in test_dbt_faults.py (it needs a built world).
"""

from __future__ import annotations

import os
import signal

import pytest

from ingestion.api import ingest_app_table
from tests.drills.conftest import finish, reap, rows, start_forked
from tests.drills.test_ingestion_faults import BIG_SENDS, app_db_cmd, freeze_inside
from tests.drills.test_kill_app_db import TABLE, assert_raw_equals_source
from tests.fixtures.tiny_source import build_tiny_source

pytestmark = [pytest.mark.drill, pytest.mark.integration]


def test_server_restarts_during_ingestion(dedicated_server, drill):
    source = dedicated_server.create_database("drsrc")
    warehouse = dedicated_server.create_database("drwh")
    build_tiny_source(source, n_sends=BIG_SENDS)
    proc = start_forked(app_db_cmd(source, warehouse))
    try:
        freeze_inside(proc, warehouse, 'copy "raw"', "crownsync-ingestion")  # mid-COPY
        drill["restart_s"] = round(dedicated_server.restart_immediate(), 2)
        os.kill(proc.pid, signal.SIGCONT)
        done = finish(proc, timeout=120)
    finally:
        reap(proc)
    assert done.returncode == 1, done.output[-3000:]
    failed = [line for line in done.output.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and f"app_db.{TABLE}" in failed[0], done.output[-3000:]
    drill["message"] = failed[0][:200]
    # nothing half-written (the crash rolled the load's transaction back)
    assert rows(warehouse, f"select to_regclass('raw.{TABLE}') is null") == [(True,)]
    # no watermark; the ledger itself may be gone too: the embedded server runs with
    # synchronous_commit = off, so a crash can lose the last commits (here the ledger DDL)
    # — all or nothing per transaction, which is what exactly-once needs
    if rows(warehouse, "select to_regclass('raw._watermarks') is not null") == [(True,)]:
        assert rows(warehouse, "select count(*) from raw._watermarks") == [(0,)]

    with drill.timed("recovery"):
        result = ingest_app_table(TABLE, warehouse_url=warehouse, source_url=source)
    assert result.rows_inserted == BIG_SENDS
    assert_raw_equals_source(source, warehouse, deleted=0)
    statuses = [s for (s,) in rows(warehouse, "select status from raw._loads order by load_id")]
    # the interrupted load: 'abandoned' (or gone: synchronous_commit = off may lose the
    # last commits in a crash), never left 'running'; then one success
    assert statuses[-1] == "succeeded" and "running" not in statuses, statuses
    assert set(statuses[:-1]) <= {"abandoned", "failed"}, statuses
    drill["ledger"] = statuses
