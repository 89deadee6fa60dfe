"""One place that reads the project's configuration from the environment.

Every component (ingestion CLI, simulator, Dagster resources, tests, the Makefile through
``python -m ingestion.db``) asks :func:`get_settings` instead of reading ``os.environ``.
``profiles.yml`` reads the same variable names through ``env_var()``; ``.env.example``
lists them all.

Defaults give a self-contained demo: an embedded PostgreSQL in ``.warehouse/pgdata``
listening on 127.0.0.1:5433, holding the warehouse, Dagster's storage and the simulated
app database ``crownsync_app``; export files in ``.warehouse/landing``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent

WAREHOUSE_DB = "crownsync_warehouse"
SOURCE_DB = "crownsync_app"
DAGSTER_DB = "crownsync_dagster"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="Warehouse PostgreSQL URL. Unset: the embedded server is used.",
    )
    source_database_url: str | None = Field(
        default=None,
        description="The CrownSync app database (read-only). Unset: the simulated demo source.",
    )
    landing_dir: Path | None = Field(
        default=None,
        description="Folder of platform export files (read-only). Unset: the demo landing dir.",
    )
    dagster_home: Path = Field(default=PROJECT_ROOT / ".warehouse" / "dagster_home")
    dagster_database_url: str | None = Field(
        default=None,
        description="Dagster run/event storage. Unset: database crownsync_dagster on the warehouse server.",
    )
    warehouse_pg_port: int = Field(default=5433, description="Port of the embedded server.")
    warehouse_pg_dir: Path = Field(default=PROJECT_ROOT / ".warehouse" / "pgdata")
    warehouse_owner_role: str = Field(
        default="warehouse_owner",
        description="Role that owns and builds the warehouse (ingestion and dbt set role to it).",
    )
    ingest_lookback_minutes: int = Field(
        default=60, description="Incremental extraction re-reads this far behind the watermark."
    )
    # -- bounded waits (docs/reliability.md) ------------------------------------------------
    ingest_lock_wait_seconds: int = Field(
        default=600,
        description="How long a load waits for another load of the same table/export, then fails.",
    )
    statement_timeout_seconds: int = Field(
        default=3600,
        description="statement_timeout of the pipeline's warehouse sessions (ingestion, dbt, serving); 0 = none.",
    )
    lock_timeout_seconds: int = Field(
        default=300,
        description="lock_timeout of the pipeline's warehouse sessions: a table lock wait fails after this.",
    )
    idle_in_transaction_timeout_seconds: int = Field(
        default=600,
        description="idle_in_transaction_session_timeout of the pipeline's warehouse sessions.",
    )
    connect_timeout_seconds: int = Field(
        default=10, description="How long opening a database connection may take."
    )

    # -- derived -------------------------------------------------------------------------

    @property
    def uses_embedded_server(self) -> bool:
        return self.database_url is None

    @property
    def uses_demo_sources(self) -> bool:
        """True when neither real source is configured: the simulator may write the demo."""
        return self.source_database_url is None and self.landing_dir is None

    def _embedded_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.warehouse_pg_port}/{database}"

    @property
    def warehouse_url(self) -> str:
        return self.database_url or self._embedded_url(WAREHOUSE_DB)

    @property
    def source_url(self) -> str:
        if self.source_database_url:
            return self.source_database_url
        return _sibling_database(self.warehouse_url, SOURCE_DB)

    @property
    def dagster_storage_url(self) -> str:
        if self.dagster_database_url:
            return self.dagster_database_url
        return _sibling_database(self.warehouse_url, DAGSTER_DB)

    @property
    def landing_path(self) -> Path:
        return self.landing_dir or PROJECT_ROOT / ".warehouse" / "landing"

    def session_timeouts(self) -> dict[str, str]:
        """The GUCs that bound every wait of a pipeline session on the warehouse."""
        return {
            "statement_timeout": f"{self.statement_timeout_seconds}s",
            "lock_timeout": f"{self.lock_timeout_seconds}s",
            "idle_in_transaction_session_timeout": f"{self.idle_in_transaction_timeout_seconds}s",
        }

    def pgoptions(self) -> str:
        """``PGOPTIONS`` for tools that open their own sessions (dbt): the same bounds."""
        return " ".join(f"-c {name}={value}" for name, value in self.session_timeouts().items())


def dbt_env(settings: Settings) -> dict[str, str]:
    """Connection settings for dbt, derived from the one warehouse URL.

    ``profiles.yml`` reads these through ``env_var()``; whatever runs dbt (the Makefile via
    ``python -m ingestion.dbt_cli``, Dagster's dbt resource, tests) exports them first, so dbt
    always talks to the same server as the rest of the project.
    """
    url = make_url(settings.warehouse_url)
    return {
        "DBT_PG_HOST": url.host or "127.0.0.1",
        "DBT_PG_PORT": str(url.port or 5432),
        "DBT_PG_USER": url.username or "postgres",
        "DBT_PG_PASSWORD": url.password or "",
        "DBT_PG_DBNAME": url.database or "",
        "DBT_PG_SSLMODE": str(url.query.get("sslmode", "prefer")),
        "DBT_PG_ROLE": settings.warehouse_owner_role,
        "PGOPTIONS": settings.pgoptions(),
    }


def _sibling_database(url: str, database: str) -> str:
    """The same server and credentials as ``url``, another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as a plain libpq URL for psycopg/psql."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def get_settings() -> Settings:
    return Settings()
