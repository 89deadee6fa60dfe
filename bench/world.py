"""The bench's world: the server, one scale's fresh databases and work dir, subprocess limits."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from crownsync.settings import get_settings, libpq_url


class BenchTimeout(RuntimeError):
    """A subprocess of the bench (psql, the pipeline) ran past its limit and was stopped."""


def psql_timeout(scale: float) -> float:
    """Limit for one psql command: 10 min, plus 10 min per unit of scale (scale 10: 110 min).

    One ``\\copy`` of the largest table takes well under a minute at scale 1 on 2 cores.
    """
    return 600.0 + 600.0 * scale


def pipeline_timeout(scale: float) -> float:
    """Limit for one pipeline child process: 30 min, plus 15 min per unit of scale.

    The full pipeline takes about 3 min at scale 1 on 2 cores; scale 10: 180 min allowed.
    """
    return 1800.0 + 900.0 * scale


def say(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def scale_tag(scale: float) -> str:
    text = f"{scale:g}".replace(".", "_").replace("-", "m")
    return f"s{text}"


def with_db(server_url: str, database: str) -> str:
    return libpq_url(
        make_url(server_url).set(database=database).render_as_string(hide_password=False)
    )


def sa_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


# --- the server ------------------------------------------------------------------------


def resolve_server(server_url: str | None) -> str:
    """Maintenance URL of the server the bench uses (starting the embedded one if needed)."""
    if server_url:
        return libpq_url(server_url)
    settings = get_settings()
    if settings.uses_embedded_server:
        from crownsync.warehouse import embedded

        embedded.start(settings.warehouse_pg_dir, settings.warehouse_pg_port)
    return with_db(settings.warehouse_url, "postgres")


def recreate_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return with_db(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def machine_info(server_url: str) -> dict:
    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with psycopg.connect(server_url) as conn:
        version = conn.execute("select version()").fetchone()[0]
        server_version = conn.execute("show server_version").fetchone()[0]
        settings = dict(
            conn.execute(
                "select name, current_setting(name) from pg_settings where name in "
                "('shared_buffers', 'work_mem', 'maintenance_work_mem', 'synchronous_commit', "
                "'max_wal_size', 'effective_cache_size')"
            ).fetchall()
        )
    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "cpu_model": cpu_model,
        "postgres_version": server_version,
        "postgres_version_string": version,
        "postgres_settings": settings,
        "server": make_url(server_url).set(database=None).render_as_string(hide_password=True),
    }


def git_commit(root: Path) -> str:
    """Short sha of HEAD, ``+dirty`` when tracked files differ (the bench's own outputs,
    docs/benchmarks.md/.json, which every run rewrites, do not count)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = [line for line in status if not line[3:].startswith("docs/benchmarks.")]
    return sha + ("+dirty" if dirty else "")


def database_size(server_url: str, name: str) -> int:
    with psycopg.connect(server_url) as conn:
        return conn.execute("select pg_database_size(%s)", (name,)).fetchone()[0]


# --- per-scale context -----------------------------------------------------------------


@dataclass
class Scale:
    scale: float
    tag: str
    server_url: str
    prefix: str
    work: Path

    def name(self, role: str) -> str:
        return f"{self.prefix}_{role}_{self.tag}"

    def url(self, role: str) -> str:
        return with_db(self.server_url, self.name(role))

    @property
    def landing(self) -> Path:
        return self.work / "landing"

    @property
    def dagster_home(self) -> Path:
        return self.work / "dagster_home"

    def pipeline_env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.url("wh"),
            "SOURCE_DATABASE_URL": self.url("src"),
            "LANDING_DIR": str(self.landing),
            "DAGSTER_DATABASE_URL": self.url("dagster"),
            "DAGSTER_HOME": str(self.dagster_home),
        }


def setup_scale(ctx: Scale) -> None:
    shutil.rmtree(ctx.work, ignore_errors=True)
    ctx.work.mkdir(parents=True)
    for role in ("src", "ing", "wh", "dagster"):
        recreate_database(ctx.server_url, ctx.name(role))
