"""A whole pipeline world for the orchestration tests: simulator sources + empty warehouse."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crownsync.dbt import prepare_manifest
from crownsync.settings import dbt_env, get_settings
from tests.dbt_runner import run_dbt
from tests.fixtures.handbuilt import HandBuilt, apply_source_changes, build_source


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """The prepared dbt manifest the Dagster definitions load (what the entry points do)."""
    return prepare_manifest()


@dataclass(frozen=True)
class World:
    source_url: str
    landing_dir: Path
    warehouse_url: str
    dagster_url: str
    dagster_home: Path

    def env(self) -> dict[str, str]:
        """What an entry point (make run / make ui) exports for this world."""
        dbt = dbt_env(get_settings().model_copy(update={"database_url": self.warehouse_url}))
        return {
            **dbt,
            "DATABASE_URL": self.warehouse_url,
            "SOURCE_DATABASE_URL": self.source_url,
            "LANDING_DIR": str(self.landing_dir),
            "DAGSTER_DATABASE_URL": self.dagster_url,
            "DAGSTER_HOME": str(self.dagster_home),
        }


@pytest.fixture(scope="module")
def world(make_database, tmp_path_factory) -> Iterator[World]:
    """Scale-0.01 simulated sources, an empty warehouse, settings pointing at them."""
    from simulator import generate

    root = tmp_path_factory.mktemp("world")
    built = World(
        source_url=make_database("src"),
        landing_dir=root / "landing",
        warehouse_url=make_database("wh"),
        dagster_url=make_database("dagster"),
        dagster_home=root / "dagster_home",
    )
    generate(built.source_url, built.landing_dir, 0.01, 7, quiet=True)
    saved = {name: os.environ.get(name) for name in built.env()}
    os.environ.update(built.env())
    get_settings.cache_clear()
    yield built
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@dataclass
class HandbuiltPipeline:
    hb: HandBuilt
    warehouse_url: str
    dbt: subprocess.CompletedProcess


def _ingest(warehouse_url: str, source_url: str, landing_dir: Path) -> None:
    from ingestion.api import ingest_all

    report = ingest_all(
        warehouse_url=warehouse_url,
        source_url=source_url,
        landing_dir=landing_dir,
        check_deletes=True,
    )
    assert report.ok, f"ingestion failed: {report.errors}"


@pytest.fixture(scope="session")
def handbuilt_pipeline(
    make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> HandbuiltPipeline:
    """The hand-built world (tests/fixtures/handbuilt.py) ingested twice and built by dbt on
    Postgres: the acceptance test of the marts (test_marts_handbuilt.py) and the Spark
    equality test (test_spark_marts.py) share this one run. Nothing may write to it after.
    """
    # session scope, so tmp_path_factory stands in for the function-scoped landing_dir fixture
    source_url = make_database("hb_src")
    warehouse_url = make_database("hb_wh")
    work = tmp_path_factory.mktemp("handbuilt")
    landing = work / "landing"
    landing.mkdir()

    hb = build_source(source_url, landing)
    _ingest(warehouse_url, source_url, landing)
    apply_source_changes(hb, source_url, landing)
    _ingest(warehouse_url, source_url, landing)
    result = run_dbt(["build"], warehouse_url, work / "target", check=False)
    if result.returncode != 0:
        # test_dbt_build_succeeds reports the failure; a failing dbt test or unit test skips
        # the models downstream of it, so build the models anyway to still compare the marts
        run_dbt(["run"], warehouse_url, work / "target-run", check=False)
    return HandbuiltPipeline(hb, warehouse_url, result)
