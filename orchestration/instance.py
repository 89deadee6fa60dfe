"""Prepare DAGSTER_HOME: dagster.yaml (Postgres storage) and the variables it reads."""

from __future__ import annotations

import shutil
from pathlib import Path

from crownsync.settings import PROJECT_ROOT, Settings, dbt_env, url_parts
from crownsync.warehouse.databases import ensure_database

TEMPLATE = PROJECT_ROOT / "orchestration" / "dagster.yaml"


def dagster_env(settings: Settings) -> dict[str, str]:
    parts = url_parts(settings.dagster_storage_url)
    return {
        "DAGSTER_HOME": str(settings.dagster_home),
        "DAGSTER_PG_HOST": parts["host"],
        "DAGSTER_PG_PORT": parts["port"],
        "DAGSTER_PG_USER": parts["user"],
        "DAGSTER_PG_PASSWORD": parts["password"],
        "DAGSTER_PG_DB": parts["database"] or "crownsync_dagster",
    }


def prepare_dagster_home(settings: Settings) -> dict[str, str]:
    """Write DAGSTER_HOME/dagster.yaml, create the storage database, export the env.

    Returns the variables the Dagster processes need (DAGSTER_HOME, DAGSTER_PG_*, DBT_PG_*);
    the entry point exports them (this function changes no process state).
    """
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    ensure_database(settings.dagster_storage_url)
    return {**dagster_env(settings), **dbt_env(settings)}
