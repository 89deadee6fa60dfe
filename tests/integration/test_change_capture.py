"""Change capture of the big facts: raw._changed_keys, written with the rows (tables.yml change_keys)."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from ingestion.api import ingest_app_table
from tests.fixtures.tiny_source import build_tiny_source

pytestmark = pytest.mark.integration

EC = "00000000-0000-4000-b000-{:012d}"
SEND = "00000000-0000-4000-c000-{:012d}"


@pytest.fixture
def loaded(make_database):
    """Tiny source, email_sends loaded once (send s is in email campaign 1 + s % 4, day 2026-10-02)."""
    source, warehouse = make_database("src"), make_database("wh")
    build_tiny_source(source, n_sends=20)
    first = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    return source, warehouse, first


def _source(url: str, statement: str, params: tuple = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def _changes(warehouse: str, load_id: int) -> set[tuple]:
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select parent_key, activity_date from raw._changed_keys "
            "where table_name = 'email_sends' and load_id = %s",
            (load_id,),
        ).fetchall()
    assert len(rows) == len(set(rows)), "distinct per load"
    return set(rows)


def test_first_load_records_one_reset_marker(loaded):
    _, warehouse, first = loaded
    assert first.mode == "initial" and first.change_log_reset
    assert _changes(warehouse, first.load_id) == {(None, None)}
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw._changed_keys").fetchone()[0] == 1


def test_reparent_records_old_and_new_groups(loaded):
    source, warehouse, _ = loaded
    # sends 1 and 5 (campaign 2) move to campaign 4; send 5 also to another day
    _source(
        source,
        "update email_sends set email_campaign_id = %s, updated_at = now() "
        "where send_id = any(%s::uuid[])",
        (EC.format(4), [SEND.format(1), SEND.format(5)]),
    )
    _source(
        source,
        "update email_sends set sent_at = timestamptz '2026-10-05 10:00+00' where send_id = %s",
        (SEND.format(5),),
    )
    result = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert result.rows_updated == 2
    assert _changes(warehouse, result.load_id) == {
        (EC.format(2), date(2026, 10, 2)),  # old parent, old day (both sends)
        (EC.format(4), date(2026, 10, 2)),  # send 1's new group
        (EC.format(4), date(2026, 10, 5)),  # send 5's new group
    }
    assert (result.affected_parents, result.affected_days, result.affected_groups) == (2, 2, 3)
    assert len(result.affected_sample) == 3 and not result.change_log_reset


def test_unchanged_reread_records_nothing(loaded):
    source, warehouse, _ = loaded
    # within the lookback every row is read again: nothing changed, nothing recorded
    again = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert again.rows_read == 20 and again.rows_updated == 0
    assert _changes(warehouse, again.load_id) == set()
    assert again.affected_groups == 0


def test_hard_delete_and_undelete_record_their_groups(loaded):
    source, warehouse, _ = loaded
    _source(source, "delete from email_sends where send_id = %s", (SEND.format(3),))
    gone = ingest_app_table(
        "email_sends", warehouse_url=warehouse, source_url=source, check_deletes=True
    )
    assert gone.rows_deleted == 1
    assert _changes(warehouse, gone.load_id) == {(EC.format(4), date(2026, 10, 2))}

    # the send comes back under another campaign: the tombstone's and the new group
    _source(
        source,
        "insert into email_sends (send_id, email_campaign_id, retailer_id, recipient_email, "
        "send_status, sent_at, created_at, updated_at) values (%s, %s, "
        "'00000000-0000-4000-9000-000000000001', 'x@example.com', 'delivered', "
        "timestamptz '2026-10-03 12:00+00', now(), now())",
        (SEND.format(3), EC.format(1)),
    )
    back = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert back.rows_updated == 1  # an undelete is an update of the tombstone
    assert _changes(warehouse, back.load_id) == {
        (EC.format(4), date(2026, 10, 2)),
        (EC.format(1), date(2026, 10, 3)),
    }


def test_a_failed_load_leaves_no_change_rows(loaded):
    source, warehouse, _ = loaded
    _source(source, "update email_sends set open_count = 7, updated_at = now()")
    # a real failure after the merge and the change rows: the watermark cannot be written
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(
            "alter table raw._watermarks add constraint drill_no_sends "
            "check (table_name <> 'email_sends') not valid"
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        failed = conn.execute(
            "select load_id from raw._loads where status = 'failed' and target = 'email_sends'"
        ).fetchone()[0]
        conn.execute("alter table raw._watermarks drop constraint drill_no_sends")
    assert _changes(warehouse, failed) == set()
    retried = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert retried.rows_updated == 20
    assert len(_changes(warehouse, retried.load_id)) == 4  # 4 campaigns, one day


def test_prune_leaves_a_reset_marker_at_the_highest_pruned_load(loaded):
    source, warehouse, first = loaded
    _source(source, "update email_sends set open_count = 1, updated_at = now()")
    second = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert len(_changes(warehouse, second.load_id)) == 4
    with psycopg.connect(warehouse, autocommit=True) as conn:  # both loads 40 days old
        conn.execute(
            "update raw._loads set finished_at = finished_at - interval '40 days' "
            "where load_id = any(%s)",
            ([first.load_id, second.load_id],),
        )
    _source(source, "update email_sends set open_count = 2, updated_at = now() where send_id = %s",
            (SEND.format(2),))  # fmt: skip
    third = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert third.change_rows_pruned == 5  # first's marker + second's 4 groups
    with psycopg.connect(warehouse) as conn:
        left = conn.execute(
            "select load_id, parent_key, activity_date from raw._changed_keys order by 1, 2"
        ).fetchall()
    assert left == [
        (second.load_id, None, None),
        (third.load_id, EC.format(3), date(2026, 10, 2)),
    ]
    # nothing more to prune: the marker stays, no churn
    fourth = ingest_app_table("email_sends", warehouse_url=warehouse, source_url=source)
    assert fourth.change_rows_pruned == 0
