"""Parallel ingestion (INGEST_WORKERS > 1): the same raw as a serial load, exactly once.

Two warehouses load the same source, one serially (``workers=1``), one with four
key-range streams per table (``INGEST_PARALLEL_MIN_ROWS=1``: every table is split) and
tables concurrently; raw must be the same, row for row, after the first load, after a
re-run (nothing read twice counts twice) and after source changes (inserts, updates,
a hard delete), change log included.
"""

from __future__ import annotations

import psycopg
import pytest

from crownsync.settings import get_settings
from ingestion.api import APP_TABLES, ingest_app_db
from ingestion.app_db.manifest import load_manifest
from tests.fixtures.tiny_source import build_tiny_source

pytestmark = pytest.mark.integration

N_SENDS = 3000
WORKERS = 4

SOURCE_CHANGES = """
update email_sends set open_count = open_count + 1, updated_at = timestamptz '2026-10-03'
 where send_id in (select send_id from email_sends order by send_id limit 40);
insert into email_sends (send_id, email_campaign_id, retailer_id, recipient_email, send_status,
                         sent_at, open_count, click_count, created_at, updated_at)
select ('00000000-0000-4000-d000-' || lpad(s::text, 12, '0'))::uuid,
       '00000000-0000-4000-b000-000000000001', '00000000-0000-4000-9000-000000000001',
       'par' || s || '@mail.example', 'sent', timestamptz '2026-10-03', 0, 0,
       timestamptz '2026-10-03', timestamptz '2026-10-03 01:00' + s * interval '1 second'
  from generate_series(1, 25) s;
delete from email_sends where send_id = (select send_id from email_sends
                                          where recipient_email not like 'par%'
                                          order by send_id desc limit 1);
"""


@pytest.fixture
def split_every_table(monkeypatch):
    """Every table counts as large (split into key ranges) for the loads of this test."""
    monkeypatch.setenv("INGEST_PARALLEL_MIN_ROWS", "1")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def raw_content(url: str) -> dict[str, tuple[int, str]]:
    """Per app table: (rows, md5 of every row's source columns, _source and _deleted_at is
    null, in key order). _load_id and _loaded_at differ between two warehouses by nature."""
    out = {}
    for name, spec in load_manifest().items():
        cols = [
            r[0]
            for r in _rows(
                url,
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = %s and column_name not in ('_load_id', '_loaded_at', "
                "'_deleted_at') order by ordinal_position",
                (name,),
            )
        ]
        if not cols:
            out[name] = (0, "")
            continue
        col_list = ", ".join(f'"{c}"' for c in cols)
        key = ", ".join(f'"{c}"' for c in spec.primary_key)
        count, digest = _rows(
            url,
            f"select count(*), coalesce(md5(string_agg(row({col_list}, _deleted_at is null)::text,"  # noqa: S608
            f" E'\\n' order by {key})), '') from raw.{name}",
        )[0]
        out[name] = (int(count), digest)
    return out


def raw_definitions(url: str) -> list[tuple]:
    """Every raw column (type, null, default), key, persistence, grants, comment, owner."""
    columns = _rows(
        url,
        "select table_name, ordinal_position, column_name, data_type, is_nullable, "
        "column_default from information_schema.columns where table_schema = 'raw' "
        "order by 1, 2",
    )
    tables = _rows(
        url,
        "select c.relname, c.relpersistence, c.reloptions, c.relacl::text, obj_description(c.oid), "
        "pg_get_userbyid(c.relowner), (select array_agg(pg_get_constraintdef(k.oid) "
        "order by k.conname) from pg_constraint k where k.conrelid = c.oid) "
        "from pg_class c where c.relnamespace = 'raw'::regnamespace and c.relkind = 'r' "
        "order by 1",
    )
    return columns + tables


def change_log(url: str) -> list[tuple]:
    """The recorded (parent, day) groups (reset markers aside: one per first load)."""
    return _rows(
        url,
        "select table_name, parent_key, activity_date, count(*) from raw._changed_keys "
        "where parent_key is not null group by 1, 2, 3 order by 1, 2, 3",
    )


def stages(url: str) -> list[str]:
    query = "select relname from pg_class where relname like %s"
    return [r[0] for r in _rows(url, query, ("\\_stage\\_%",))]


def test_parallel_load_equals_serial_and_is_exactly_once(make_database, split_every_table):
    source, serial, parallel = make_database("psrc"), make_database("pser"), make_database("ppar")
    build_tiny_source(source, n_sends=N_SENDS)

    first_serial = ingest_app_db(warehouse_url=serial, source_url=source, workers=1)
    first_parallel = ingest_app_db(warehouse_url=parallel, source_url=source, workers=WORKERS)
    assert first_serial.ok and first_parallel.ok, (first_serial.errors, first_parallel.errors)
    assert [t.table for t in first_parallel.tables] == list(APP_TABLES)  # report order kept
    by_table = {t.table: t for t in first_parallel.tables}
    assert by_table["email_sends"].streams > 1  # really split into key ranges
    assert by_table["email_sends"].rows_inserted == N_SENDS
    assert all(t.streams == 1 for t in first_serial.tables)
    expected = raw_content(serial)
    assert expected["email_sends"][0] == N_SENDS
    assert raw_content(parallel) == expected
    assert raw_definitions(parallel) == raw_definitions(serial)
    assert stages(parallel) == []

    # re-run, nothing changed in the source: every row re-read counts nowhere
    again = ingest_app_db(warehouse_url=parallel, source_url=source, workers=WORKERS)
    assert again.ok, again.errors
    assert [(t.rows_inserted, t.rows_updated, t.rows_deleted) for t in again.tables] == [
        (0, 0, 0)
    ] * len(APP_TABLES)
    assert raw_content(parallel) == expected
    assert _rows(
        parallel,
        "select count(*) from raw._loads where status <> 'succeeded'",
    ) == [(0,)]

    # source changes: the incremental merge through the streams, deletes checked
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(SOURCE_CHANGES)
    changed_serial = ingest_app_db(
        warehouse_url=serial, source_url=source, workers=1, check_deletes=True
    )
    changed_parallel = ingest_app_db(
        warehouse_url=parallel, source_url=source, workers=WORKERS, check_deletes=True
    )
    assert changed_serial.ok and changed_parallel.ok
    sends = {t.table: t for t in changed_parallel.tables}["email_sends"]
    assert sends.streams > 1
    assert (sends.rows_inserted, sends.rows_updated, sends.rows_deleted) == (25, 40, 1)
    after = raw_content(serial)
    assert after["email_sends"][0] == N_SENDS + 25  # the deleted row stays, marked
    assert raw_content(parallel) == after
    assert change_log(serial)  # the merge recorded groups
    assert change_log(parallel) == change_log(serial)
    assert stages(parallel) == []
