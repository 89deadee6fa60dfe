"""Settings: the URLs and dbt variables derived from explicit values (no database, no env)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crownsync.errors import ConfigError
from crownsync.settings import (
    MAX_DEFAULT_WORKERS,
    Settings,
    dbt_env,
    default_ingest_workers,
    libpq_url,
    parse_ingest_workers,
)

ENV_VARS = (
    "DATABASE_URL",
    "SOURCE_DATABASE_URL",
    "LANDING_DIR",
    "DAGSTER_DATABASE_URL",
    "WAREHOUSE_PG_PORT",
    "WAREHOUSE_OWNER_ROLE",
    "STATEMENT_TIMEOUT_SECONDS",
    "LOCK_TIMEOUT_SECONDS",
    "IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
    "INGEST_WORKERS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_embedded_defaults():
    s = settings(warehouse_pg_port=5999)
    assert s.uses_embedded_server and s.uses_demo_sources
    assert s.warehouse_url == "postgresql://postgres@127.0.0.1:5999/crownsync_warehouse"
    assert s.source_url == "postgresql://postgres@127.0.0.1:5999/crownsync_app"
    assert s.dagster_storage_url == "postgresql://postgres@127.0.0.1:5999/crownsync_dagster"


def test_source_and_dagster_are_sibling_databases_of_the_warehouse_url():
    s = settings(database_url="postgresql://etl:s3cret@db.example.com:6432/wh?sslmode=require")
    assert not s.uses_embedded_server
    assert s.warehouse_url == "postgresql://etl:s3cret@db.example.com:6432/wh?sslmode=require"
    # same server, credentials and options; another database; the password is kept
    assert (
        s.source_url == "postgresql://etl:s3cret@db.example.com:6432/crownsync_app?sslmode=require"
    )
    assert (
        s.dagster_storage_url
        == "postgresql://etl:s3cret@db.example.com:6432/crownsync_dagster?sslmode=require"
    )


def test_explicit_source_and_dagster_urls_win():
    s = settings(
        database_url="postgresql://etl@wh:5432/wh",
        source_database_url="postgresql://reader@app:5432/app",
        dagster_database_url="postgresql://dagster@meta:5432/dagster",
    )
    assert s.source_url == "postgresql://reader@app:5432/app"
    assert s.dagster_storage_url == "postgresql://dagster@meta:5432/dagster"


@pytest.mark.parametrize(
    ("values", "demo"),
    [
        ({}, True),
        ({"source_database_url": "postgresql://reader@app/app"}, False),
        ({"landing_dir": Path("/data/landing")}, False),
        ({"source_database_url": "postgresql://reader@app/app", "landing_dir": "/x"}, False),
        ({"database_url": "postgresql://etl@wh/wh"}, True),  # a real warehouse, demo sources
    ],
)
def test_uses_demo_sources_only_when_neither_source_is_set(values, demo):
    assert settings(**values).uses_demo_sources is demo


def test_landing_path_default_and_explicit():
    assert settings().landing_path.parts[-2:] == (".warehouse", "landing")
    assert settings(landing_dir="/data/landing").landing_path == Path("/data/landing")


def test_settings_read_the_environment_when_not_given(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@envhost:7000/envdb")
    monkeypatch.setenv("LANDING_DIR", "/env/landing")
    s = Settings(_env_file=None)
    assert s.warehouse_url == "postgresql://env@envhost:7000/envdb"
    assert s.landing_path == Path("/env/landing") and not s.uses_demo_sources


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://u:p%40ss@h:5434/d", "postgresql://u:p%40ss@h:5434/d"),
        (
            "postgresql+psycopg2://u@h/d?sslmode=verify-full",
            "postgresql://u@h/d?sslmode=verify-full",
        ),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
    ],
)
def test_libpq_url_drops_the_driver_and_keeps_credentials(url, expected):
    assert libpq_url(url) == expected


def test_dbt_env_maps_every_part_of_the_warehouse_url():
    s = settings(
        database_url="postgresql+psycopg://etl:p%40ss@db.example.com:6432/wh?sslmode=require",
        warehouse_owner_role="wh_owner",
        statement_timeout_seconds=60,
        lock_timeout_seconds=5,
        idle_in_transaction_timeout_seconds=30,
    )
    assert dbt_env(s) == {
        "DBT_PG_HOST": "db.example.com",
        "DBT_PG_PORT": "6432",
        "DBT_PG_USER": "etl",
        "DBT_PG_PASSWORD": "p@ss",  # decoded: dbt gets the password itself, not URL text
        "DBT_PG_DBNAME": "wh",
        "DBT_PG_SSLMODE": "require",
        "DBT_PG_ROLE": "wh_owner",
        "PGOPTIONS": "-c statement_timeout=60s -c lock_timeout=5s "
        "-c idle_in_transaction_session_timeout=30s",
    }


def test_dbt_env_defaults_for_a_minimal_url():
    env = dbt_env(settings(warehouse_pg_port=5999))
    assert env["DBT_PG_HOST"] == "127.0.0.1"
    assert env["DBT_PG_PORT"] == "5999"
    assert env["DBT_PG_USER"] == "postgres"
    assert env["DBT_PG_PASSWORD"] == ""
    assert env["DBT_PG_DBNAME"] == "crownsync_warehouse"
    assert env["DBT_PG_SSLMODE"] == "prefer"
    assert env["DBT_PG_ROLE"] == "warehouse_owner"
    url_without_port = dbt_env(settings(database_url="postgresql://u@somehost/db"))
    assert url_without_port["DBT_PG_PORT"] == "5432"


def test_session_timeouts_and_pgoptions():
    s = settings(statement_timeout_seconds=0, lock_timeout_seconds=1)
    assert s.session_timeouts() == {
        "statement_timeout": "0s",
        "lock_timeout": "1s",
        "idle_in_transaction_session_timeout": "600s",
    }
    assert s.pgoptions().split(" -c ")[0] == "-c statement_timeout=0s"


@pytest.mark.parametrize("value", ["0", "-1", "-8", "two", "2.5", "1e3", "0x2"])
def test_ingest_workers_must_be_a_positive_integer(value):
    with pytest.raises(ConfigError) as caught:
        parse_ingest_workers(value)
    assert str(caught.value).startswith(f"INGEST_WORKERS must be a positive integer, got {value!r}")
    assert "set it to 1 for serial ingestion" in caught.value.hint


def test_ingest_workers_default_is_the_core_count_and_explicit_values_win(monkeypatch):
    cores = default_ingest_workers()
    assert 1 <= cores <= MAX_DEFAULT_WORKERS
    assert parse_ingest_workers(None) == cores
    assert parse_ingest_workers("  ") == cores
    assert parse_ingest_workers(" 3 ") == 3
    assert parse_ingest_workers(1) == 1
    monkeypatch.setenv("INGEST_WORKERS", "5")
    assert Settings().workers == 5
    monkeypatch.setenv("INGEST_WORKERS", "0")
    with pytest.raises(ConfigError):
        Settings().workers  # noqa: B018 (the property validates)
