"""A whole pipeline world for the orchestration tests: simulator sources + empty warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crownsync.dbt import prepare_manifest
from crownsync.settings import dbt_env, get_settings


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
