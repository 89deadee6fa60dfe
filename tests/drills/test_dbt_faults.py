"""dbt faults: kill -9 mid-model, a model that fails halfway, two builds at once; and two
whole ingestions at once. Readers are a real ``bi_reader`` login.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crownsync.warehouse.connections import connect_warehouse
from serving.grants import apply_access
from tests.drills.conftest import (
    cli_env,
    database_backends,
    finish,
    ingestion_cmd,
    reap,
    rows,
    start,
    wait_for,
)
from tests.drills.dbt_world import (
    MARTS_SELECTOR,
    broken_project,
    build_world,
    kill_dbt,
    leftovers,
    marts_digest,
)

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

PASSWORD = "drill-" + uuid.uuid4().hex[:12]
BLOCKED_MART = "campaign_performance"
BROKEN_MART = "retailer_ranking"  # retailer_ranking_latest is built from it


def publish(url: str) -> None:
    """The serving step (what the pipeline runs after checked marts): grants, RLS."""
    saved = os.environ.get("BI_READER_PASSWORD")
    os.environ["BI_READER_PASSWORD"] = PASSWORD
    try:
        with connect_warehouse(url) as conn:
            apply_access(conn)
    finally:
        if saved is None:
            os.environ.pop("BI_READER_PASSWORD")
        else:
            os.environ["BI_READER_PASSWORD"] = saved


def reader_view(url: str, marts: list[str]) -> dict[str, object]:
    """What bi_reader gets from each mart: its row count, or 'denied'."""
    reader = make_url(url).set(username="bi_reader", password=PASSWORD)
    seen: dict[str, object] = {}
    with psycopg.connect(reader.render_as_string(hide_password=False), autocommit=True) as conn:
        for mart in marts:
            try:
                seen[mart] = conn.execute(f'select count(*) from marts."{mart}"').fetchone()[0]  # noqa: S608
            except psycopg.errors.InsufficientPrivilege:
                seen[mart] = "denied"
    return seen


@pytest.fixture(scope="module")
def built(make_database, tmp_path_factory):
    world = build_world(
        make_database("drsrc"), make_database("drwh"), tmp_path_factory.mktemp("dbtworld")
    )
    publish(world.warehouse_url)
    good = marts_digest(world.warehouse_url)
    assert good and all(count for count, _ in good.values())
    return world, good


def lock_waiters(url: str, like: str) -> list[tuple]:
    return rows(
        url,
        "select pid, left(query, 160) from pg_stat_activity where datname = current_database() "
        "and state = 'active' and wait_event_type = 'Lock' and query ilike %s",
        (f"%{like}%",),
    )


def no_other_backends(url: str) -> bool:
    return database_backends(url) == 0


def test_kill_dbt_while_it_builds_a_model(built, drill):
    world, good = built
    url = world.warehouse_url
    # a reader mid-query on the mart: dbt's swap (rename) of the rebuilt table waits on it
    blocker = psycopg.connect(url)
    blocker.execute(f"select count(*) from marts.{BLOCKED_MART}")  # noqa: S608
    proc = world.start_dbt("run", "--select", MARTS_SELECTOR, name="kill")
    try:
        [(pid, query)] = wait_for(
            lambda: lock_waiters(url, f'"{BLOCKED_MART}"'),
            f"dbt to be inside the build of {BLOCKED_MART} (waiting to swap it in)",
            120,
        )
        drill["killed_in"] = query[:120]
        kill_dbt(proc)
        blocker.close()  # the reader ends its query: the swap could proceed, for a dead client
        wait_for(lambda: no_other_backends(url), "dbt's sessions to end after the kill", 60)
    finally:
        blocker.close()
        reap(proc)
    assert proc.returncode == -signal.SIGKILL
    assert leftovers(url) == []  # the model's transaction was rolled back whole
    assert marts_digest(url) == good  # same inputs: every mart has its last good content
    readers = reader_view(url, list(good))
    assert readers[BLOCKED_MART] == good[BLOCKED_MART][0]  # the killed model: old table, served
    # marts rebuilt earlier in the killed run are new tables, not yet published
    drill["unpublished_after_kill"] = sorted(m for m, v in readers.items() if v == "denied")

    with drill.timed("recovery"):
        done = world.dbt("run", "--select", MARTS_SELECTOR, name="kill")
        assert done.returncode == 0, done.output[-6000:]
        publish(url)
    assert marts_digest(url) == good
    assert reader_view(url, list(good)) == {m: c for m, (c, _) in good.items()}


def test_a_model_that_fails_halfway_keeps_the_last_good_mart(built, drill):
    world, good = built
    url = world.warehouse_url
    done = world.dbt(
        "run",
        "--select",
        MARTS_SELECTOR,
        project_dir=broken_project(world.root, BROKEN_MART),
        name="broken",
    )
    assert done.returncode == 1, done.output[-6000:]
    assert "division by zero" in done.output and BROKEN_MART in done.output
    assert leftovers(url) == []
    after = marts_digest(url)
    assert after == good  # the failed and the skipped marts kept their last good tables
    readers = reader_view(url, list(good))
    # readers still see the last good failed mart and its (skipped) downstream mart
    for mart in (BROKEN_MART, f"{BROKEN_MART}_latest"):
        assert readers[mart] == good[mart][0], readers
    # every other mart was rebuilt by the failed run: new tables that serving did not
    # publish (a plain dbt run never publishes; the pipeline's serving step depends on all
    # marts, so it is skipped when one fails) — readers get "permission denied" on them
    rebuilt = sorted(m for m, v in readers.items() if v == "denied")
    drill["unpublished_after_failed_run"] = rebuilt
    assert BROKEN_MART not in rebuilt and f"{BROKEN_MART}_latest" not in rebuilt

    with drill.timed("recovery"):
        done = world.dbt("run", "--select", MARTS_SELECTOR, name="broken-fixed")
        assert done.returncode == 0, done.output[-6000:]
        publish(url)
    assert marts_digest(url) == good
    assert reader_view(url, list(good)) == {m: c for m, (c, _) in good.items()}


def test_two_dbt_runs_at_once(built, drill):
    world, good = built
    url = world.warehouse_url
    procs = [world.start_dbt("run", "--select", MARTS_SELECTOR, name=f"twin{i}") for i in (1, 2)]
    try:
        results = [finish(proc, timeout=240) for proc in procs]
    finally:
        for proc in procs:
            reap(proc)
    drill["exit_codes"] = [r.returncode for r in results]
    errors = [
        line.strip()
        for r in results
        for line in r.output.splitlines()
        if "Database Error" in line or "ERROR" in line[:40]
    ]
    drill["errors"] = errors[:6]
    assert leftovers(url) == [], results[0].output[-3000:] + results[1].output[-3000:]
    assert marts_digest(url) == good  # whatever the outcome, no mart doubled or lost rows
    with drill.timed("recovery"):
        done = world.dbt("run", "--select", MARTS_SELECTOR, name="twin1")
        assert done.returncode == 0, done.output[-6000:]
        publish(url)
    assert marts_digest(url) == good


def raw_counts(url: str) -> dict[str, int]:
    """Row count of every raw table but the load log (whose rows differ run by run)."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'raw' "
                "and tablename <> '_loads' order by 1"
            )
        ]
        return {
            t: conn.execute(f'select count(*) from raw."{t}"').fetchone()[0]  # noqa: S608
            for t in tables
        }


def test_two_whole_ingestions_at_once(built, make_database, drill):
    """Two `python -m ingestion all` over the whole tiny world into one empty warehouse."""
    world, _ = built
    warehouse = make_database("drwh2")
    cmd = ingestion_cmd(
        "all",
        "--warehouse-url",
        warehouse,
        "--source-url",
        world.source_url,
        "--landing-dir",
        str(world.landing_dir),
    )
    procs = [start(cmd, cli_env()) for _ in range(2)]
    try:
        results = [finish(proc, timeout=240) for proc in procs]
    finally:
        for proc in procs:
            reap(proc)
    for result in results:
        assert result.returncode == 0, result.output[-4000:]
    # the same raw as one run (the module's warehouse was ingested once from these sources)
    assert raw_counts(warehouse) == raw_counts(world.warehouse_url)
    assert rows(
        warehouse,
        "select count(*) from (select export, file_name from raw._files "
        "group by 1, 2 having count(*) > 1) d",
    ) == [(0,)]
    assert rows(warehouse, "select count(*) from raw._loads where status <> 'succeeded'") == [(0,)]
    drill["rows_lost_or_doubled"] = 0


def copy_warehouse(source_url: str, target_url: str) -> None:
    """pg_dump | psql of a built warehouse onto another server, then the bootstrap (owners)."""
    import subprocess

    from crownsync.warehouse import embedded
    from crownsync.warehouse.bootstrap import bootstrap_warehouse

    dump = subprocess.run(
        [str(embedded.bin_path("pg_dump")), "--no-owner", "--no-privileges", "-d", source_url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    subprocess.run(
        [str(embedded.bin_path("psql")), "-q", "-X", "-d", target_url],
        input=dump.stdout,
        capture_output=True,
        timeout=120,
        check=True,
    )
    bootstrap_warehouse(target_url, force=True)


def test_server_restarts_during_dbt(built, dedicated_server, tmp_path, drill):
    """``pg_ctl restart -m immediate`` while dbt is inside a model: a clear failure, then a
    normal run gives the same marts."""
    import shutil

    from tests.drills.dbt_world import DbtWorld

    world, good = built
    url = dedicated_server.create_database("drwh")
    copy_warehouse(world.warehouse_url, url)
    here = DbtWorld(world.source_url, world.landing_dir, url, tmp_path)
    (tmp_path / "target-t").mkdir()
    shutil.copy(world.root / "target-t" / "partial_parse.msgpack", tmp_path / "target-t")
    assert marts_digest(url) == good

    blocker = psycopg.connect(url)
    blocker.execute(f"select count(*) from marts.{BLOCKED_MART}")  # noqa: S608
    proc = here.start_dbt("run", "--select", MARTS_SELECTOR)
    try:
        wait_for(
            lambda: lock_waiters(url, f'"{BLOCKED_MART}"'),
            f"dbt to be inside the build of {BLOCKED_MART}",
            180,
        )
        drill["restart_s"] = round(dedicated_server.restart_immediate(), 2)
        done = finish(proc, timeout=240)
    finally:
        with contextlib.suppress(psycopg.Error):
            blocker.close()
        reap(proc)
    assert done.returncode != 0, done.output[-4000:]
    lost = [
        line.strip()
        for line in done.output.splitlines()
        if "terminating connection" in line or "server closed the connection" in line
    ]
    assert lost, done.output[-4000:]
    drill["message"] = lost[0][:200]
    assert leftovers(url) == []
    assert marts_digest(url) == good
    with drill.timed("recovery"):
        again = here.dbt("run", "--select", MARTS_SELECTOR)
    assert again.returncode == 0, again.output[-4000:]
    assert marts_digest(url) == good
