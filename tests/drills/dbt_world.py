"""A built warehouse for the dbt drills: simulated sources, ingested, snapshotted, run.

Shared by the dbt drills on the test server and the restart drills on a dedicated server.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from crownsync.settings import PROJECT_ROOT
from tests.dbt_runner import DBT, dbt_env_for
from tests.drills.conftest import Finished, finish, reap, rows, start

MARTS_SELECTOR = "marts"  # the drills rebuild the marts only (fast): their inputs are built


@dataclass(frozen=True)
class DbtWorld:
    source_url: str
    landing_dir: Path
    warehouse_url: str
    root: Path

    def dbt_cmd(self, *args: str, project_dir: Path | None = None, name: str = "t") -> list[str]:
        target = self.root / f"target-{name}"
        seed = self.root / "target-t" / "partial_parse.msgpack"
        if name != "t" and seed.exists() and not (target / seed.name).exists():
            # a fresh target dir means a full parse (20 s on a busy box): start from ours
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(seed, target / seed.name)
        return [
            str(DBT),
            *args,
            "--project-dir",
            str(project_dir or PROJECT_ROOT / "dbt_project"),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ]

    def dbt_env(self) -> dict[str, str]:
        return dbt_env_for(self.warehouse_url)

    def start_dbt(self, *args: str, project_dir: Path | None = None, name: str = "t"):
        return start(self.dbt_cmd(*args, project_dir=project_dir, name=name), self.dbt_env())

    def dbt(self, *args: str, project_dir: Path | None = None, name: str = "t") -> Finished:
        proc = self.start_dbt(*args, project_dir=project_dir, name=name)
        try:
            return finish(proc, timeout=240)
        finally:
            reap(proc)


def build_world(source_url: str, warehouse_url: str, root: Path) -> DbtWorld:
    from ingestion.api import ingest_all
    from simulator import generate

    world = DbtWorld(source_url, root / "landing", warehouse_url, root)
    generate(source_url, world.landing_dir, 0.01, 7, quiet=True)
    report = ingest_all(
        warehouse_url=warehouse_url, source_url=source_url, landing_dir=world.landing_dir
    )
    assert report.ok, report.errors
    # models and the snapshot in dependency order, without the (slow) tests
    done = world.dbt("build", "--resource-type", "model", "--resource-type", "snapshot")
    assert done.returncode == 0, done.output[-6000:]
    return world


def mart_tables(url: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            url,
            "select tablename from pg_tables where schemaname = 'marts' "
            "and tablename <> 'access_grants' and tablename not like '%%\\_\\_dbt\\_%%' order by 1",
        )
    ]


def marts_digest(url: str) -> dict[str, tuple[int, str]]:
    """Every mart's row count and md5 of its rows (sorted): equal means the same content."""
    digests = {}
    with psycopg.connect(url) as conn:
        for table in mart_tables(url):
            digests[table] = conn.execute(
                f"select count(*), coalesce(md5(string_agg(t::text, E'\\n' order by t::text)), '') "  # noqa: S608
                f'from marts."{table}" t'
            ).fetchone()
    return digests


def leftovers(url: str) -> list[str]:
    """dbt's intermediate relations (__dbt_tmp, __dbt_backup) left in the warehouse."""
    return [
        f"{s}.{t}"
        for s, t in rows(
            url,
            "select schemaname, tablename from pg_tables where tablename like '%%\\_\\_dbt\\_%%' "
            "union all select schemaname, viewname from pg_views where viewname like '%%\\_\\_dbt\\_%%'",
        )
    ]


def broken_project(root: Path, model: str) -> Path:
    """A copy of the dbt project where ``model`` fails at run time (division by zero)."""
    copy = root / "dbt_project_broken"
    if not copy.exists():
        shutil.copytree(
            PROJECT_ROOT / "dbt_project",
            copy,
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
        )
        [path] = list(copy.glob(f"models/**/{model}.sql"))
        text = path.read_text()
        assert text.rstrip().endswith("select * from final"), path
        failing = "\nwhere 1 / (select count(*) * 0 from final) = 1\n"
        path.write_text(text.rstrip() + failing)
    return copy


def kill_dbt(proc: subprocess.Popen) -> None:
    """SIGKILL dbt and all it started (its process group: start() makes a new session)."""
    import os

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
