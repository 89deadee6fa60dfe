"""The raw ledger (ingestion/ledger.py): its one writer, its records and its locks."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from crownsync.warehouse.connections import connect_warehouse
from ingestion import ledger
from ingestion.api import prepare_warehouse

pytestmark = pytest.mark.integration

LEDGER_TABLES = ("_loads", "_watermarks", "_schema_changes", "_files", "_rejected_rows")
WRITE = re.compile(
    r"\b(insert\s+into|update|delete\s+from|copy|truncate)\s+raw\.("
    + "|".join(LEDGER_TABLES)
    + r")\b",
    re.IGNORECASE,
)


def test_only_the_ledger_module_writes_the_ledger_tables():
    writers = set()
    for folder in ("crownsync", "ingestion", "orchestration", "serving"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if WRITE.search(path.read_text()):
                writers.add(path.relative_to(PROJECT_ROOT).as_posix())
    assert writers == {"ingestion/ledger.py"}


@pytest.fixture
def warehouse(make_database) -> str:
    url = make_database("wh")
    prepare_warehouse(url)
    return url


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def test_a_recorded_load_fails_with_its_error_and_succeeds_with_its_counts(warehouse):
    with connect_warehouse(warehouse, autocommit=True) as recorder:
        with pytest.raises(ValueError), ledger.recorded_load(recorder, "orders", "export"):
            raise ValueError("bad file")
        with (
            ledger.recorded_load(recorder, "brands", "app_db") as load_id,
            connect_warehouse(warehouse) as conn,
            conn.transaction(),
        ):
            ledger.succeed_load(conn, load_id, rows_read=5, rows_inserted=3, rows_updated=2)
    assert _rows(
        warehouse,
        "select target, kind, status, error, rows_read, rows_inserted, rows_updated, "
        "finished_at is not null, backend_pid is not null from raw._loads order by load_id",
    ) == [
        ("orders", "export", "failed", "ValueError: bad file", 0, 0, 0, True, True),
        ("brands", "app_db", "succeeded", None, 5, 3, 2, True, True),
    ]


def test_watermarks_and_schema_changes(warehouse):
    mark = datetime(2026, 10, 1, 12, tzinfo=UTC)
    with connect_warehouse(warehouse, autocommit=True) as conn:
        assert ledger.watermark(conn, "brands") is None
        ledger.advance_watermark(conn, "brands", "updated_at", mark, 1, deletes_checked=True)
        ledger.advance_watermark(conn, "brands", "updated_at", mark, 2, deletes_checked=False)
        assert ledger.watermark(conn, "brands") == mark
        ledger.record_extra_column(conn, "brands", "loyalty_tier", "text", 1)
        ledger.record_extra_column(conn, "brands", "loyalty_tier", "text", 2)  # recorded once
    # a later load that did not check deletes keeps the time of the last check
    assert _rows(
        warehouse, "select load_id, deletes_checked_at is not null from raw._watermarks"
    ) == [(2, True)]
    assert _rows(warehouse, "select column_name, load_id from raw._schema_changes") == [
        ("loyalty_tier", 1)
    ]


def test_files_and_rejected_rows(warehouse):
    when = datetime(2026, 10, 1, tzinfo=UTC)
    with connect_warehouse(warehouse, autocommit=True) as conn:
        first = ledger.record_file(
            conn,
            export="orders",
            file_name="a.csv",
            size=10,
            sha256="abc",
            modified_at=when,
            status="loaded",
            load_id=1,
        )
        rejected = ledger.record_file_rows(
            conn,
            file_id=first,
            export="orders",
            file_name="a.csv",
            rows_loaded=7,
            rejected=[(3, "quantity", "x,y", "quantity: not a number"), (9, None, "", "empty")],
            load_id=1,
        )
        assert rejected == 2
        dup = ledger.record_file(
            conn,
            export="orders",
            file_name="b.csv",
            size=10,
            sha256="abc",
            modified_at=when,
            status="duplicate",
            load_id=2,
            reason="same bytes as a.csv",
            duplicate_of=first,
        )
        assert ledger.find_file(conn, "orders", "a.csv", "abc") == (first, "loaded")
        assert ledger.find_file(conn, "orders", "a.csv", "other") is None
        assert ledger.find_original(conn, "orders", "abc") == (first, "a.csv")
        assert ledger.recorded_file_status(conn, "orders", "b.csv", 10, when) == "duplicate"
        assert ledger.recorded_file_status(conn, "orders", "b.csv", 11, when) is None
    assert _rows(
        warehouse, "select file_id, rows_loaded, rows_rejected, duplicate_of from raw._files"
    ) == [(first, 7, 2, None), (dup, 0, 0, first)]
    assert _rows(
        warehouse,
        "select line_number, column_name, raw_content, reason from raw._rejected_rows "
        "order by line_number",
    ) == [(3, "quantity", "x,y", "quantity: not a number"), (9, None, "", "empty")]


def test_the_ledger_ddl_runs_only_when_something_is_missing(warehouse):
    with connect_warehouse(warehouse, autocommit=True) as conn:
        assert ledger._ledger_complete(conn)
        conn.execute("drop index raw._files_sha256")
        assert not ledger._ledger_complete(conn)
        ledger.ensure_raw_schema(conn)
        assert ledger._ledger_complete(conn)


def test_a_stale_running_load_of_the_old_kind_is_abandoned_under_its_lock(warehouse):
    # a 'running' row with no backend (written before loads held a liveness lock)
    with connect_warehouse(warehouse, autocommit=True) as conn:
        conn.execute("insert into raw._loads (target, kind) values ('orders', 'export')")
        assert ledger.abandon_dead_loads(conn) == 0  # no liveness information: left alone
        with connect_warehouse(warehouse) as loader, loader.transaction():
            ledger.lock_target(loader, "orders", wait_seconds=5)
            assert ledger.abandon_stale_loads(loader, "orders", current_load_id=10**9) == 1
    assert _rows(warehouse, "select status from raw._loads") == [("abandoned",)]
