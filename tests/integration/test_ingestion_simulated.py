"""Ingestion of the simulated world, then of the next simulated day (`simulate --advance`)."""

from __future__ import annotations

import psycopg
import pytest

from ingestion.api import APP_TABLES, ingest_all
from simulator import advance, generate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _scalar(url: str, query: str, params: tuple = ()):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]


def _live_counts_match(source: str, warehouse: str) -> dict[str, tuple[int, int]]:
    mismatches = {}
    for table in APP_TABLES:
        src = _scalar(source, f"select count(*) from public.{table}")  # noqa: S608
        raw = _scalar(warehouse, f"select count(*) from raw.{table} where _deleted_at is null")  # noqa: S608
        if src != raw:
            mismatches[table] = (src, raw)
    return mismatches


def test_first_load_then_advance(make_database, landing_dir):
    source, warehouse = make_database("src"), make_database("wh")
    world = generate(source, landing_dir, 0.01, 7, quiet=True)

    first = ingest_all(warehouse_url=warehouse, source_url=source, landing_dir=landing_dir)
    assert first.ok, first.errors
    assert _live_counts_match(source, warehouse) == {}
    # every injected bad row is quarantined, at its line, and only those
    rejected = {
        (r[0], r[1])
        for r in psycopg.connect(warehouse).execute(
            "select file_name, line_number from raw._rejected_rows"
        )
    }
    assert rejected == {(b.file_name, b.line) for b in world.bad_rows}
    duplicates = _scalar(warehouse, "select count(*) from raw._files where status = 'duplicate'")
    assert duplicates == len(world.duplicates) >= 1
    marks_before = dict(
        psycopg.connect(warehouse).execute("select table_name, watermark from raw._watermarks")
    )

    day = advance(source, landing_dir, quiet=True)
    second = ingest_all(
        warehouse_url=warehouse, source_url=source, landing_dir=landing_dir, check_deletes=True
    )
    assert second.ok, second.errors
    by_table = {t.table: t for t in second.tables}

    # new rows are added, updated rows updated, the deleted wish marked
    assert _live_counts_match(source, warehouse) == {}
    assert by_table["email_sends"].rows_inserted == day.rows["email_sends"]
    opened = day.changes["email_sends_opened"] + day.changes["email_sends_clicked"]
    assert by_table["email_sends"].rows_updated >= day.changes["email_sends_opened"] > 0
    assert by_table["email_sends"].rows_updated <= opened
    differing = _scalar(
        warehouse,
        "select count(*) from raw.email_sends where _deleted_at is null and opened_at is not null",
    ) - _scalar(source, "select count(*) from email_sends where opened_at is not null")
    assert differing == 0
    assert by_table["campaigns"].rows_updated == day.changes["campaigns_budget_updated"]
    moved = day.changes["retailer_moved"]
    with psycopg.connect(warehouse) as conn:
        region, tier = conn.execute(
            "select region, tier from raw.retailers where retailer_id = %s", (moved["retailer_id"],)
        ).fetchone()
        assert (region, tier) == (moved["new_region"], moved["new_tier"])
        [deleted] = day.changes["wish_list_items_deleted"]
        assert conn.execute(
            "select _deleted_at is not null from raw.wish_list_items where wish_id = %s", (deleted,)
        ).fetchone()[0]
    assert by_table["wish_list_items"].rows_deleted == 1
    # the watermarks moved forward for every table that changed
    marks_after = dict(
        psycopg.connect(warehouse).execute("select table_name, watermark from raw._watermarks")
    )
    for table in ("email_sends", "campaigns", "retailers", "wish_list_items", "social_analytics"):
        assert marks_after[table] > marks_before[table], table
    new_files = [f for f in second.files if f.status == "loaded"]
    assert len(new_files) == len([f for f in day.files if f.duplicate_of is None]) >= 3

    # a third run without source change changes nothing
    third = ingest_all(
        warehouse_url=warehouse, source_url=source, landing_dir=landing_dir, check_deletes=True
    )
    assert sum(t.rows_inserted + t.rows_updated + t.rows_deleted for t in third.tables) == 0
    assert [f for f in third.files if f.status != "skipped"] == []
