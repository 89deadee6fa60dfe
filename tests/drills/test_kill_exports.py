"""kill -9 at every named point of an export load: a folder of 3 files, killed in file 1 or 2.

Each file is its own transaction: a kill in file 2 leaves file 1 loaded exactly once and
nothing of file 2 (or, after file 2's commit, file 2 complete); the re-run loads what is
missing, once, with the restated keys' ``_is_current`` right.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ingestion.api import ingest_export
from tests.drills.conftest import cli_env, ledger, rows, run_forked_cli, table_digest

pytestmark = [pytest.mark.drill, pytest.mark.integration]

EXPORT = "orders"
RETAILER = "00000000-0000-4000-9000-000000000001"
HEADER = (
    "order_id,line_number,retailer_id,ordered_at,model_mpn,quantity,unit_price,currency,status\n"
)
LINES_PER_FILE = 300  # one of them bad: 299 good rows per file
GOOD = LINES_PER_FILE - 1
RESTATED = 20  # file 3 restates the first 20 orders of file 1 (same key, new status)
FILES = ("orders_day1.csv", "orders_day2.csv", "orders_day3.csv")


def write_landing(landing: Path) -> None:
    folder = landing / EXPORT
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(FILES, start=1):
        lines = []
        for n in range(GOOD):
            order = f"O1-{n}" if index == 3 and n < RESTATED else f"O{index}-{n}"
            status = "refunded" if index == 3 and n < RESTATED else "paid"
            lines.append(
                f"{order},1,{RETAILER},2026-10-0{index}T10:00:00Z,M-{n % 7},1,10.00,USD,{status}\n"
            )
        lines.insert(150, f"BAD-{index},1,{RETAILER},not-a-time,M-1,1,10.00,USD,paid\n")
        path = folder / name
        path.write_text(HEADER + "".join(lines))
        stamp = datetime(2026, 10, index, 12, tzinfo=UTC).timestamp()
        os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def warehouse(make_database) -> str:
    return make_database("drwh")


def reset(warehouse: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")


def loaded_files(warehouse: str) -> list[tuple]:
    return rows(
        warehouse,
        "select file_name, status, rows_loaded, rows_rejected from raw._files order by file_id",
    )


def assert_files_loaded_once(warehouse: str, n_files: int) -> None:
    assert loaded_files(warehouse) == [(name, "loaded", GOOD, 1) for name in FILES[:n_files]]
    per_file = rows(
        warehouse,
        f"select f.file_name, count(*), count(distinct x._key) from raw.{EXPORT} x "  # noqa: S608
        "join raw._files f on f.file_id = x._file_id group by 1 order by 1",
    )
    assert per_file == [(name, GOOD, GOOD) for name in FILES[:n_files]]
    restated = RESTATED if n_files == 3 else 0
    current = rows(
        warehouse,
        f"select count(*), count(distinct _key), count(*) filter (where _is_current) "  # noqa: S608
        f"from raw.{EXPORT}",
    )[0]
    assert current == (GOOD * n_files, GOOD * n_files - restated, GOOD * n_files - restated)
    assert rows(warehouse, "select count(*) from raw._rejected_rows")[0][0] == n_files
    if n_files == 3:  # the restatement in file 3 wins for its keys
        assert rows(
            warehouse,
            f"select count(*) from raw.{EXPORT} where _is_current and status = 'refunded'",  # noqa: S608
        ) == [(RESTATED,)]


def statuses_by_file(warehouse: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for target, status in rows(
        warehouse, "select target, status from raw._loads where kind = 'export' order by load_id"
    ):
        result.setdefault(target.rsplit("/", 1)[1], []).append(status)
    return result


# (failpoint, file the kill happens in, committed?) — export.row counts good rows over the
# whole run: file 1 has passes 1..299, file 2 300..598.
POINTS = [
    ("export.started@1", 1, False),
    ("export.row@150", 1, False),
    ("export.before_commit@1", 1, False),
    ("export.started@2", 2, False),
    ("export.locked@2", 2, False),
    ("export.file_recorded@2", 2, False),
    (f"export.row@{GOOD + 1}", 2, False),
    (f"export.row@{GOOD + 150}", 2, False),
    (f"export.row@{2 * GOOD}", 2, False),
    ("export.copied@2", 2, False),
    ("export.rejects_written@2", 2, False),
    ("export.current_refreshed@2", 2, False),
    ("export.before_commit@2", 2, False),
    ("export.after_commit@2", 2, True),
]


@pytest.mark.parametrize(("point", "in_file", "committed"), POINTS, ids=[p[0] for p in POINTS])
def test_kill_during_export_folder_load(point, in_file, committed, warehouse, tmp_path, drill):
    reset(warehouse)
    landing = tmp_path / "landing"
    write_landing(landing)
    result = run_forked_cli(
        [
            "exports",
            "--exports",
            EXPORT,
            "--warehouse-url",
            warehouse,
            "--landing-dir",
            str(landing),
        ],
        env=cli_env(CROWNSYNC_FAILPOINT=point),
    )
    assert result.returncode == -signal.SIGKILL, (
        f"not killed at {point} (exit {result.returncode}):\n{result.output[-3000:]}"
    )

    # nothing half-written: exactly the files committed before the kill, each once
    done = in_file if committed else in_file - 1
    if done == 0 and ledger(warehouse)["files"] == []:
        assert table_digest(warehouse, f"raw.{EXPORT}", "_row_id") in (None, (0, ""))
    else:
        assert_files_loaded_once(warehouse, done)
    killed = FILES[in_file - 1]
    assert statuses_by_file(warehouse).get(killed, [])[-1:] in (
        (["succeeded"],) if committed else (["running"], ["abandoned"])
    )

    with drill.timed("recovery"):
        results = ingest_export(EXPORT, warehouse_url=warehouse, landing_dir=landing)
    assert [(r.file_name, r.status) for r in results] == [(name, "loaded") for name in FILES[done:]]
    assert_files_loaded_once(warehouse, 3)
    expected = {name: ["succeeded"] for name in FILES}
    if not committed:
        expected[killed] = ["abandoned", "succeeded"]
    assert statuses_by_file(warehouse) == expected
    drill["rows_lost_or_doubled"] = 0
