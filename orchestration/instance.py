"""Prepare DAGSTER_HOME: dagster.yaml (Postgres storage) and the variables it reads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy.engine import make_url

from crownsync.settings import PROJECT_ROOT, Settings, dbt_env
from crownsync.warehouse.databases import ensure_database

TEMPLATE = PROJECT_ROOT / "orchestration" / "dagster.yaml"


def dagster_env(settings: Settings) -> dict[str, str]:
    url = make_url(settings.dagster_storage_url)
    return {
        "DAGSTER_HOME": str(settings.dagster_home),
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.database or "crownsync_dagster",
    }


def prepare_dagster_home(settings: Settings) -> dict[str, str]:
    """Write DAGSTER_HOME/dagster.yaml, create the storage database, export the env.

    Returns the variables set (also put into ``os.environ`` for this process and children).
    """
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    ensure_database(settings.dagster_storage_url)
    env = {**dagster_env(settings), **dbt_env(settings)}
    os.environ.update(env)
    return env
