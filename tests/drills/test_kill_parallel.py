"""kill -9 in the middle of a parallel app-db load (INGEST_WORKERS=2, key-range streams).

The loader subprocess splits ``email_sends`` into two key-range streams (one exported
source snapshot, an unlogged stage ``raw._stage_<load_id>``), armed with
``CROWNSYNC_FAILPOINT`` at a step of the parallel path: the stage created, a block relayed
by either stream (mid-stream), all streams copied, the stage merged, before and after the
commit. Then: nothing half-written (raw, its watermark and the ledger as before the load),
and a parallel re-run gives exact counts (nothing lost or doubled), drops the dead stage and
leaves the killed load 'abandoned'.
"""

from __future__ import annotations

import signal

import psycopg
import pytest

from ingestion.api import ingest_app_table
from tests.drills.conftest import cli_env, rows, run_forked_cli
from tests.drills.test_kill_app_db import (
    N_INSERTED,
    N_SENDS,
    N_UPDATED,
    TABLE,
    assert_raw_equals_source,
    load_statuses,
    reset,
    snapshot,
)
from tests.fixtures.tiny_source import build_tiny_source

pytestmark = [pytest.mark.drill, pytest.mark.integration]

STREAMS = 2
PARALLEL_ENV = {"INGEST_WORKERS": str(STREAMS), "INGEST_PARALLEL_MIN_ROWS": "1"}

FIRST_LOAD_POINTS = [
    "app_db.stage_created",
    "app_db.copy_block@1",
    "app_db.copy_block@3",
    "app_db.streams_copied",
    "app_db.merged",
    "app_db.before_commit",
    "app_db.after_commit",
]
INCREMENTAL_POINTS = [
    "app_db.stage_created",
    "app_db.copy_block@2",
    "app_db.streams_copied",
    "app_db.staged",
    "app_db.merged",
    "app_db.keys_block@1",
    "app_db.before_commit",
    "app_db.after_commit",
]
MID_STREAM = ("app_db.copy_block", "app_db.streams_copied", "app_db.staged", "app_db.merged")


@pytest.fixture(scope="module")
def world(make_database):
    source, warehouse = make_database("dpsrc"), make_database("dpwh")
    build_tiny_source(source, n_sends=N_SENDS)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(f"create table {TABLE}_base as table {TABLE}")
    return source, warehouse


def stages(url: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            url,
            "select relname from pg_class where relnamespace = 'raw'::regnamespace "
            "and relname like %s order by 1",
            ("\\_stage\\_%",),
        )
    ]


def _kill_at(point: str, source: str, warehouse: str, *extra: str) -> str:
    result = run_forked_cli(
        ["app-db", "--tables", TABLE, "--warehouse-url", warehouse, "--source-url", source]
        + list(extra),
        env=cli_env(CROWNSYNC_FAILPOINT=point, **PARALLEL_ENV),
    )
    assert result.returncode == -signal.SIGKILL, (
        f"the parallel loader was not killed at {point} (exit {result.returncode}); the point "
        f"was never reached:\n{result.output[-3000:]}"
    )
    return result.output


def _recover(source: str, warehouse: str, **kwargs):
    result = ingest_app_table(
        TABLE,
        warehouse_url=warehouse,
        source_url=source,
        workers=STREAMS,
        parallel_min_rows=1,
        **kwargs,
    )
    assert result.streams == STREAMS  # the re-run took the parallel path too
    assert stages(warehouse) == []  # the dead load's stage was dropped
    return result


@pytest.mark.parametrize("point", FIRST_LOAD_POINTS)
def test_kill_parallel_first_load(point, world, drill):
    source, warehouse = world
    reset(source, warehouse, first_load_done=False, changes=False)
    _kill_at(point, source, warehouse)
    committed = point == "app_db.after_commit"

    if committed:
        assert_raw_equals_source(source, warehouse, deleted=0)
        assert load_statuses(warehouse) == ["succeeded"]
        assert stages(warehouse) == []
    else:  # nothing half-written: no raw table, no watermark; at most a dead stage
        after = snapshot(warehouse)
        assert after["raw"] is None, f"raw.{TABLE} exists after a kill at {point}"
        assert after["ledger"]["watermarks"] == []
        assert load_statuses(warehouse) in (["running"], ["abandoned"])
        if point.startswith(MID_STREAM):
            assert len(stages(warehouse)) == 1  # the streams' committed part, not raw

    with drill.timed("recovery"):
        result = _recover(source, warehouse)
    assert result.rows_inserted == (0 if committed else N_SENDS)
    assert_raw_equals_source(source, warehouse, deleted=0)
    assert load_statuses(warehouse) == (
        ["succeeded", "succeeded"] if committed else ["abandoned", "succeeded"]
    )
    drill["rows_lost_or_doubled"] = 0


@pytest.mark.parametrize("point", INCREMENTAL_POINTS)
def test_kill_parallel_incremental_load(point, world, drill):
    source, warehouse = world
    reset(source, warehouse, first_load_done=True, changes=True)
    before = snapshot(warehouse)
    _kill_at(point, source, warehouse, "--check-deletes")
    committed = point == "app_db.after_commit"

    after = snapshot(warehouse)
    if committed:
        assert_raw_equals_source(source, warehouse, deleted=1)
        assert load_statuses(warehouse) == ["succeeded", "succeeded"]
    else:  # raw, its watermark and the ledger exactly as before the load
        assert after["raw"] == before["raw"]
        assert after["ledger"]["watermarks"] == before["ledger"]["watermarks"]
        assert load_statuses(warehouse) in (["succeeded", "running"], ["succeeded", "abandoned"])

    with drill.timed("recovery"):
        result = _recover(source, warehouse, check_deletes=True)
    expected = (0, 0, 0) if committed else (N_INSERTED, N_UPDATED, 1)
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == expected
    assert_raw_equals_source(source, warehouse, deleted=1)
    assert load_statuses(warehouse) == (
        ["succeeded", "succeeded", "succeeded"]
        if committed
        else ["succeeded", "abandoned", "succeeded"]
    )
    drill["rows_lost_or_doubled"] = 0
