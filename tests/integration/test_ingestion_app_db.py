"""App database → raw: first load, incremental merge, deletes, drift, crash, concurrency."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from ingestion.api import APP_TABLES, ingest_app_db, ingest_app_table
from tests.fixtures.tiny_source import build_tiny_source, count, rows_copied_in
from tests.processes import started, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def source_and_warehouse(make_database):
    source, warehouse = make_database("src"), make_database("wh")
    build_tiny_source(source, n_sends=20)
    return source, warehouse


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_first_load_equals_the_source(source_and_warehouse):
    source, warehouse = source_and_warehouse
    report = ingest_app_db(warehouse_url=warehouse, source_url=source)
    assert report.ok, report.errors
    assert [t.table for t in report.tables] == list(APP_TABLES)
    loaded = {t.table: t.rows_inserted for t in report.tables}
    assert loaded["email_sends"] == 20
    assert loaded["retailers"] == 10
    assert loaded["brands"] == 3
    assert loaded["watch_models"] == 0
    for table in ("email_sends", "retailers", "campaigns", "brands"):
        # same rows, same values, column by column (text form covers jsonb, inet, numeric)
        src = _rows(source, f"select t::text from public.{table} t order by 1")  # noqa: S608
        cols = ", ".join(
            r[0]
            for r in _rows(
                source,
                "select column_name from information_schema.columns "
                "where table_schema = 'public' and table_name = %s order by ordinal_position",
                (table,),
            )
        )
        raw = _rows(
            warehouse,
            f"select row({cols})::text from raw.{table} order by 1",  # noqa: S608
        )
        assert raw == src, table
    # same column types as the source
    src_types = _rows(
        source,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'public' and table_name = 'email_sends' order by ordinal_position",
    )
    raw_types = _rows(
        warehouse,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = 'email_sends' "
        "and column_name not like '\\_%%' order by ordinal_position",
    )
    assert raw_types == src_types
    meta = _rows(warehouse, "select distinct _source, _deleted_at from raw.email_sends")
    assert meta == [("app_db", None)]


def test_updates_inserts_deletes_and_watermarks(source_and_warehouse):
    source, warehouse = source_and_warehouse
    first = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    mark_before = first.watermark_after
    with psycopg.connect(source, autocommit=True) as conn:
        # engagement arrives hours later on 3 sends
        conn.execute(
            """
            update email_sends set opened_at = delivered_at + interval '3 hours', open_count = 1,
                   updated_at = timestamptz '2026-10-05'
             where send_id in (select send_id from email_sends order by send_id limit 3)
            """
        )
        conn.execute(
            """
            insert into email_sends (send_id, email_campaign_id, retailer_id, recipient_email,
                                     send_status, created_at, updated_at)
            select ('00000000-0000-4000-d000-' || lpad(n::text, 12, '0'))::uuid,
                   '00000000-0000-4000-b000-000000000001', '00000000-0000-4000-9000-000000000001',
                   'new@x.example', 'failed', timestamptz '2026-10-05', timestamptz '2026-10-05'
              from generate_series(1, 2) n
            """
        )
        deleted = conn.execute(
            "delete from email_sends where send_id = '00000000-0000-4000-c000-000000000020' "
            "returning send_id"
        ).fetchone()[0]

    second = ingest_app_table(
        "email_sends", warehouse_url=warehouse, source_url=source, check_deletes=True
    )
    assert (second.rows_inserted, second.rows_updated, second.rows_deleted) == (2, 3, 1)
    # lookback re-reads recent rows, but unchanged rows are not rewritten
    assert second.rows_read >= 5
    assert second.watermark_after > mark_before
    assert str(second.watermark_after).startswith("2026-10-05")
    assert count(warehouse, "select count(*) from raw.email_sends") == 22
    assert count(warehouse, "select count(*) from raw.email_sends where _deleted_at is null") == 21
    assert (
        count(
            warehouse,
            "select count(*) from raw.email_sends where send_id = %s and _deleted_at is not null",
            (deleted,),
        )
        == 1
    )
    assert count(warehouse, "select count(*) from raw.email_sends where open_count = 1") == 3
    stored = _rows(
        warehouse, "select watermark from raw._watermarks where table_name = 'email_sends'"
    )
    assert stored[0][0] == second.watermark_after

    third = ingest_app_table(
        "email_sends", warehouse_url=warehouse, source_url=source, check_deletes=True
    )
    assert (third.rows_inserted, third.rows_updated, third.rows_deleted) == (0, 0, 0)
    assert third.watermark_after == second.watermark_after


def test_a_second_run_without_change_changes_nothing(source_and_warehouse):
    source, warehouse = source_and_warehouse
    ingest_app_db(warehouse_url=warehouse, source_url=source)
    before = _rows(
        warehouse, "select send_id, _load_id, _loaded_at from raw.email_sends order by 1"
    )
    report = ingest_app_db(warehouse_url=warehouse, source_url=source, check_deletes=True)
    assert report.ok
    assert sum(t.rows_inserted + t.rows_updated + t.rows_deleted for t in report.tables) == 0
    after = _rows(warehouse, "select send_id, _load_id, _loaded_at from raw.email_sends order by 1")
    assert after == before


def test_schema_drift_extra_kept_missing_is_a_clear_error(source_and_warehouse):
    source, warehouse = source_and_warehouse
    ingest_app_db(warehouse_url=warehouse, source_url=source)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("alter table retailers add column loyalty_programme text default 'gold club'")
        conn.execute("update retailers set updated_at = timestamptz '2026-10-06'")
        conn.execute("alter table campaigns drop column budget_spent")
        conn.execute(
            "update brands set brand_name = 'Renamed', updated_at = timestamptz '2026-10-06'"
        )
    before = _rows(warehouse, "select campaign_id, budget_spent from raw.campaigns order by 1")

    report = ingest_app_db(warehouse_url=warehouse, source_url=source)

    assert list(report.errors) == ["app_db.campaigns"]
    message = report.errors["app_db.campaigns"]
    assert "campaigns" in message and "budget_spent" in message
    # the failing table is untouched, the others still loaded
    assert (
        _rows(warehouse, "select campaign_id, budget_spent from raw.campaigns order by 1") == before
    )
    assert count(warehouse, "select count(*) from raw.brands where brand_name = 'Renamed'") == 3
    assert (
        count(warehouse, "select count(*) from raw.retailers where loyalty_programme = 'gold club'")
        == 10
    )
    assert _rows(
        warehouse, "select table_name, column_name, data_type from raw._schema_changes"
    ) == [("retailers", "loyalty_programme", "text")]
    failed = _rows(
        warehouse,
        "select status, error from raw._loads where target = 'campaigns' order by load_id desc limit 1",
    )
    assert failed[0][0] == "failed" and "budget_spent" in failed[0][1]


def _ingest_subprocess(source: str, warehouse: str, table: str, log_path: Path):
    """``python -m ingestion app-db`` in a child process, stopped and reaped on exit."""
    return started(
        [
            sys.executable,
            "-m",
            "ingestion",
            "app-db",
            "--tables",
            table,
            "--warehouse-url",
            warehouse,
            "--source-url",
            source,
        ],
        log_path=log_path,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def _load_statuses(warehouse: str, target: str) -> list[tuple]:
    return _rows(
        warehouse, "select status from raw._loads where target = %s order by load_id", (target,)
    )


@pytest.mark.slow
def test_kill_9_mid_load_then_rerun_gives_exact_counts(make_database, tmp_path):
    source, warehouse = make_database("src"), make_database("wh")
    build_tiny_source(source, n_sends=300_000)
    with _ingest_subprocess(source, warehouse, "email_sends", tmp_path / "ingest.log") as proc:
        # under way: its 'running' row is committed and the COPY into raw has rows in it
        wait_until(
            lambda: proc.assert_running() or rows_copied_in(warehouse),
            timeout=120,
            what="the email_sends load to be mid-COPY",
            details=proc.log_tail,
            ignore=(psycopg.Error,),
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _load_statuses(warehouse, "email_sends") == [("running",)], (
        "the load finished before the kill: the test did not kill it mid-load"
    )
    # nothing half-written: the table (created in the load's transaction) is not even there
    if count(warehouse, "select (to_regclass('raw.email_sends') is not null)::int"):
        assert count(warehouse, "select count(*) from raw.email_sends") == 0
    assert (
        count(warehouse, "select count(*) from raw._watermarks where table_name = 'email_sends'")
        == 0
    )

    result = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert result.rows_inserted == 300_000
    assert count(warehouse, "select count(*) from raw.email_sends") == 300_000
    assert count(warehouse, "select count(distinct send_id) from raw.email_sends") == 300_000
    assert _load_statuses(warehouse, "email_sends") == [("abandoned",), ("succeeded",)]


@pytest.mark.slow
def test_two_concurrent_runs_do_not_corrupt(make_database, tmp_path):
    source, warehouse = make_database("src"), make_database("wh")
    build_tiny_source(source, n_sends=50_000)
    with (
        _ingest_subprocess(source, warehouse, "email_sends,retailers", tmp_path / "1.log") as first,
        _ingest_subprocess(
            source, warehouse, "email_sends,retailers", tmp_path / "2.log"
        ) as second,
    ):
        assert first.wait(timeout=180) == 0, first.log_tail()
        assert second.wait(timeout=180) == 0, second.log_tail()
    assert count(warehouse, "select count(*) from raw.email_sends") == 50_000
    assert count(warehouse, "select count(distinct send_id) from raw.email_sends") == 50_000
    assert count(warehouse, "select count(*) from raw.retailers") == 10
    loads = _rows(
        warehouse,
        "select target, sum(rows_inserted), count(*) from raw._loads "
        "where status = 'succeeded' group by 1 order by 1",
    )
    # each table inserted exactly once in total; the other run found nothing new
    assert loads == [("email_sends", 50_000, 2), ("retailers", 10, 2)]


def test_every_run_delete_checks_skip_the_key_copy_only_when_no_row_can_have_vanished(
    source_and_warehouse,
):
    source, warehouse = source_and_warehouse
    new_brand = (
        "insert into brands (brand_id, brand_name, is_active, created_at, updated_at) "
        "values (%s, %s, true, now(), now())"
    )
    ids = [f"00000000-0000-4000-8000-0000000009{n:02d}" for n in range(3)]
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(new_brand, (ids[0], "Maison Probe"))
        conn.execute(new_brand, (ids[1], "Atelier Probe"))
    ingest_app_table("brands", warehouse_url=warehouse, source_url=source)
    live = "select count(*) from raw.brands where _deleted_at is null"
    total = count(warehouse, live)

    # nothing changed: counts agree, no key copy, nothing marked
    same = ingest_app_table("brands", warehouse_url=warehouse, source_url=source)
    assert same.deletes_checked and same.rows_deleted == 0

    # a plain delete: the source is smaller, the keys are compared, the row is marked
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("delete from brands where brand_id = %s", (ids[0],))
    gone = ingest_app_table("brands", warehouse_url=warehouse, source_url=source)
    assert (gone.rows_inserted, gone.rows_deleted) == (0, 1)
    assert count(warehouse, live) == total - 1

    # a delete hidden by an insert (same count): the insert forces the key comparison
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("delete from brands where brand_id = %s", (ids[1],))
        conn.execute(new_brand, (ids[2], "Manufacture Probe"))
    swapped = ingest_app_table("brands", warehouse_url=warehouse, source_url=source)
    assert (swapped.rows_inserted, swapped.rows_deleted) == (1, 1)
    assert count(warehouse, live) == total - 1
    assert (
        count(
            warehouse,
            "select count(*) from raw.brands where brand_id = %s and _deleted_at is not null",
            (ids[1],),
        )
        == 1
    )
