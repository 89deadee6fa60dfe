"""kill -9 at every named point of an app-db table load (first load and incremental).

A loader subprocess (``python -m ingestion app-db``) is armed with ``CROWNSYNC_FAILPOINT`` and
SIGKILLs itself there. Then: nothing half-written (before the commit: raw exactly as before
the load; after it: the load complete, counted once), and a normal re-run gives exact counts
with the killed load 'abandoned' (or 'succeeded' after the commit) in the ledger.
"""

from __future__ import annotations

import signal

import psycopg
import pytest

from ingestion.api import ingest_app_table
from tests.drills.conftest import (
    cli_env,
    ledger,
    rows,
    run_forked_cli,
    scalar,
    table_digest,
)
from tests.fixtures.tiny_source import build_tiny_source

pytestmark = [pytest.mark.drill, pytest.mark.integration]

TABLE = "email_sends"
N_SENDS = 4000  # ≈ 0.96 MB in binary COPY format: 7 blocks of 128 kB (3600 keys ≈ 1 key block)
N_INSERTED, N_UPDATED, DELETED_ID = 30, 50, 7

# Source changes between the first and the incremental load: updates of old rows (outside
# the lookback window, so only their new updated_at brings them in), inserts, a hard delete.
SOURCE_CHANGES = f"""
update email_sends set open_count = open_count + 1,
       updated_at = timestamptz '2026-10-03' + s.n * interval '1 second'
  from (select send_id, row_number() over (order by send_id) as n from email_sends
         where send_id <> '00000000-0000-4000-c000-{DELETED_ID:012d}'
         order by send_id limit {N_UPDATED}) s
 where email_sends.send_id = s.send_id;
insert into email_sends (send_id, email_campaign_id, retailer_id, recipient_email, send_status,
                         sent_at, open_count, click_count, created_at, updated_at)
select ('00000000-0000-4000-c000-' || lpad(s::text, 12, '0'))::uuid,
       '00000000-0000-4000-b000-000000000001', '00000000-0000-4000-9000-000000000001',
       'new' || s || '@mail.example', 'sent', timestamptz '2026-10-03', 0, 0,
       timestamptz '2026-10-03', timestamptz '2026-10-03 01:00' + s * interval '1 second'
  from generate_series({N_SENDS + 1}, {N_SENDS + N_INSERTED}) s;
delete from email_sends where send_id = '00000000-0000-4000-c000-{DELETED_ID:012d}';
"""  # noqa: S608


@pytest.fixture(scope="module")
def world(make_database):
    """One source and one warehouse for the module; each drill resets them (no database churn).

    The source keeps a pristine copy of its table (``email_sends_base``; the loader only
    reads ``email_sends``).
    """
    source, warehouse = make_database("drsrc"), make_database("drwh")
    build_tiny_source(source, n_sends=N_SENDS)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(f"create table {TABLE}_base as table {TABLE}")
    return source, warehouse


def reset(source: str, warehouse: str, *, first_load_done: bool, changes: bool) -> None:
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(f"delete from {TABLE}; insert into {TABLE} select * from {TABLE}_base")  # noqa: S608
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
    if first_load_done:
        ingest_app_table(TABLE, warehouse_url=warehouse, source_url=source)
    if changes:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SOURCE_CHANGES)


def source_columns(source: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            source,
            "select column_name from information_schema.columns where table_schema = 'public' "
            "and table_name = %s order by ordinal_position",
            (TABLE,),
        )
    ]


def live_digest(url: str, schema: str, columns: list[str]) -> tuple[int, str]:
    cols = ", ".join(f'"{c}"' for c in columns)
    where = " where _deleted_at is null" if schema == "raw" else ""
    return rows(
        url,
        f"select count(*), md5(string_agg(row({cols})::text, E'\\n' order by send_id)) "  # noqa: S608
        f"from {schema}.{TABLE}{where}",
    )[0]


def assert_raw_equals_source(source: str, warehouse: str, *, deleted: int) -> None:
    columns = source_columns(source)
    assert live_digest(warehouse, "raw", columns) == live_digest(source, "public", columns)
    n_source = scalar(source, f"select count(*) from {TABLE}")  # noqa: S608
    counts = rows(
        warehouse,
        f"select count(*), count(distinct send_id), count(*) filter (where _deleted_at is not null) "  # noqa: S608
        f"from raw.{TABLE}",
    )[0]
    assert counts == (n_source + deleted, n_source + deleted, deleted)
    watermark = rows(
        warehouse, "select watermark from raw._watermarks where table_name = %s", (TABLE,)
    )
    assert watermark == [(scalar(source, f"select max(updated_at) from {TABLE}"),)]  # noqa: S608


def snapshot(warehouse: str) -> dict:
    return {
        "raw": table_digest(warehouse, f"raw.{TABLE}", "send_id"),
        "ledger": ledger(warehouse),
    }


def load_statuses(warehouse: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            warehouse, "select status from raw._loads where target = %s order by load_id", (TABLE,)
        )
    ]


FIRST_LOAD_POINTS = [
    "app_db.started",
    "app_db.locked",
    "app_db.raw_synced",
    "app_db.copy_block@1",
    "app_db.copy_block@4",
    "app_db.copy_block@7",
    "app_db.merged",
    "app_db.watermark_written",
    "app_db.before_commit",
    "app_db.after_commit",
]
INCREMENTAL_POINTS = [
    "app_db.started",
    "app_db.locked",
    "app_db.raw_synced",
    "app_db.copy_block@1",
    "app_db.copy_block@3",
    "app_db.copy_block@6",
    "app_db.staged",
    "app_db.merged",
    "app_db.keys_block@1",
    "app_db.deletes_marked",
    "app_db.watermark_written",
    "app_db.before_commit",
    "app_db.after_commit",
]


def _kill_at(point: str, source: str, warehouse: str, *extra: str):
    result = run_forked_cli(
        [
            "app-db",
            "--tables",
            TABLE,
            "--warehouse-url",
            warehouse,
            "--source-url",
            source,
            *extra,
        ],
        env=cli_env(CROWNSYNC_FAILPOINT=point),
    )
    assert result.returncode == -signal.SIGKILL, (
        f"the loader was not killed at {point} (exit {result.returncode}); the point was "
        f"never reached:\n{result.output[-3000:]}"
    )


@pytest.mark.parametrize("point", FIRST_LOAD_POINTS)
def test_kill_during_first_load(point, world, drill):
    source, warehouse = world
    reset(source, warehouse, first_load_done=False, changes=False)
    _kill_at(point, source, warehouse)
    committed = point == "app_db.after_commit"

    if committed:
        assert_raw_equals_source(source, warehouse, deleted=0)
        assert load_statuses(warehouse) == ["succeeded"]
    else:  # nothing half-written: no raw table (created in the load's transaction), no mark
        after = snapshot(warehouse)
        assert after["raw"] is None, f"raw.{TABLE} exists after a kill at {point}"
        assert after["ledger"]["watermarks"] == []
        assert load_statuses(warehouse) in (["running"], ["abandoned"])

    with drill.timed("recovery"):
        result = ingest_app_table(TABLE, warehouse_url=warehouse, source_url=source)
    assert result.rows_inserted == (0 if committed else N_SENDS)
    assert_raw_equals_source(source, warehouse, deleted=0)
    assert load_statuses(warehouse) == (
        ["succeeded", "succeeded"] if committed else ["abandoned", "succeeded"]
    )
    drill["rows_lost_or_doubled"] = 0


@pytest.mark.parametrize("point", INCREMENTAL_POINTS)
def test_kill_during_incremental_load(point, world, drill):
    source, warehouse = world
    reset(source, warehouse, first_load_done=True, changes=True)
    before = snapshot(warehouse)
    _kill_at(point, source, warehouse, "--check-deletes")
    committed = point == "app_db.after_commit"

    after = snapshot(warehouse)
    if committed:
        assert_raw_equals_source(source, warehouse, deleted=1)
        assert load_statuses(warehouse) == ["succeeded", "succeeded"]
    else:  # raw, its watermark and the files ledger exactly as before the load
        assert after["raw"] == before["raw"]
        assert after["ledger"]["watermarks"] == before["ledger"]["watermarks"]
        assert load_statuses(warehouse) in (
            ["succeeded", "running"],
            ["succeeded", "abandoned"],
        )

    with drill.timed("recovery"):
        result = ingest_app_table(
            TABLE, warehouse_url=warehouse, source_url=source, check_deletes=True
        )
    if committed:
        assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (0, 0, 0)
    else:
        assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (
            N_INSERTED,
            N_UPDATED,
            1,
        )
    assert_raw_equals_source(source, warehouse, deleted=1)
    assert load_statuses(warehouse) == (
        ["succeeded", "succeeded", "succeeded"]
        if committed
        else ["succeeded", "abandoned", "succeeded"]
    )
    drill["rows_lost_or_doubled"] = 0
