"""One place that reads the project's configuration from the environment.

Every component (ingestion CLI, simulator, Dagster resources, tests, the Makefile through
``python -m crownsync.warehouse``) asks :func:`get_settings` instead of reading ``os.environ``.
``profiles.yml`` reads the same variable names through ``env_var()``; ``.env.example``
lists them all.

Defaults give a self-contained demo: an embedded PostgreSQL in ``.warehouse/pgdata``
listening on 127.0.0.1:5433, holding the warehouse, Dagster's storage and the simulated
app database ``crownsync_app``; export files in ``.warehouse/landing``. Its URLs carry the
superuser password read from ``.warehouse/pgdata.superuser-password`` (written when the
server is first started; see :mod:`crownsync.warehouse.credentials`). With ``DATABASE_URL`` set,
that URL and its own credentials are used as they are.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from crownsync.errors import ConfigError
from crownsync.warehouse.credentials import (
    SUPERUSER,
    read_superuser_password,
    superuser_password_file,
)

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
    ui_port: int = Field(default=3000, description="Port of the Dagster UI (`make ui`).")
    warehouse_pg_dir: Path = Field(default=PROJECT_ROOT / ".warehouse" / "pgdata")
    warehouse_owner_role: str = Field(
        default="warehouse_owner",
        description="Role that owns and builds the warehouse (ingestion and dbt set role to it).",
    )
    ingest_lookback_minutes: int = Field(
        default=60, description="Incremental extraction re-reads this far behind the watermark."
    )
    ingest_workers: str | None = Field(
        default=None,
        description="Parallel ingestion: at most this many COPY streams at once (tables, feeds, "
        "key ranges of a large table). Unset: the number of cores (at most 8); 1 = serial.",
    )
    ingest_parallel_min_rows: int = Field(
        default=200_000,
        description="An app table with at least this many rows (source estimate) is split into "
        "key-range streams when INGEST_WORKERS > 1.",
    )
    change_log_retention_days: int = Field(
        default=30,
        description="raw._changed_keys rows of loads finished longer ago are pruned (a reset marker stays).",
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
    def workers(self) -> int:
        """INGEST_WORKERS as a number (validated by :func:`get_settings`)."""
        return parse_ingest_workers(self.ingest_workers)

    @property
    def uses_embedded_server(self) -> bool:
        return self.database_url is None

    @property
    def uses_demo_sources(self) -> bool:
        """True when neither real source is configured: the simulator may write the demo."""
        return self.source_database_url is None and self.landing_dir is None

    @property
    def superuser_password_file(self) -> Path:
        """Where the embedded server's superuser password is kept (0600)."""
        return superuser_password_file(self.warehouse_pg_dir)

    def _embedded_url(self, database: str) -> str:
        """The embedded server as ``postgres``, with the password from its file (if any yet)."""
        return URL.create(
            "postgresql",
            username=SUPERUSER,
            password=read_superuser_password(self.warehouse_pg_dir),
            host="127.0.0.1",
            port=self.warehouse_pg_port,
            database=database,
        ).render_as_string(hide_password=False)

    @property
    def warehouse_url(self) -> str:
        """The warehouse as a libpq URL (psycopg, psql), whatever driver DATABASE_URL names."""
        return libpq_url(self.database_url or self._embedded_url(WAREHOUSE_DB))

    @property
    def source_url(self) -> str:
        if self.source_database_url:
            return libpq_url(self.source_database_url)
        return with_database(self.warehouse_url, SOURCE_DB)

    @property
    def dagster_storage_url(self) -> str:
        if self.dagster_database_url:
            return libpq_url(self.dagster_database_url)
        return with_database(self.warehouse_url, DAGSTER_DB)

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
    ``python -m crownsync.dbt``, Dagster's dbt resource, tests) exports them first, so dbt
    always talks to the same server as the rest of the project.
    """
    parts = url_parts(settings.warehouse_url)
    return {
        "DBT_PG_HOST": parts["host"],
        "DBT_PG_PORT": parts["port"],
        "DBT_PG_USER": parts["user"],
        "DBT_PG_PASSWORD": parts["password"],
        "DBT_PG_DBNAME": parts["database"],
        "DBT_PG_SSLMODE": parts["sslmode"],
        "DBT_PG_ROLE": settings.warehouse_owner_role,
        "PGOPTIONS": settings.pgoptions(),
    }


# -- URL helpers: the only place that reshapes connection URLs ---------------------------


def with_database(url: str, database: str | None) -> str:
    """The same server and credentials as ``url``, another database (libpq form)."""
    return libpq_url(make_url(url).set(database=database).render_as_string(hide_password=False))


def url_parts(url: str) -> dict[str, str]:
    """host, port, user, password, database and sslmode of ``url`` (for env-var configs)."""
    parsed = make_url(url)
    return {
        "host": parsed.host or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": parsed.username or "postgres",
        "password": parsed.password or "",
        "database": parsed.database or "",
        "sslmode": str(parsed.query.get("sslmode", "prefer")),
    }


def database_name(url: str) -> str | None:
    return make_url(url).database


def safe_url(url: str) -> str:
    """``url`` for display: the password shown as ``***``."""
    return make_url(url).render_as_string(hide_password=True)


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """``url`` for SQLAlchemy with an explicit driver (``psycopg``, ``psycopg2``)."""
    parsed = make_url(url).set(drivername=f"postgresql+{driver}")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as a plain libpq URL for psycopg/psql."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def url_without_password(url: str) -> str:
    """``url`` with its password left out (for command lines; pass PGPASSWORD instead)."""
    parsed = make_url(url)
    return URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)


URL_SETTINGS = {
    "database_url": "DATABASE_URL",
    "source_database_url": "SOURCE_DATABASE_URL",
    "dagster_database_url": "DAGSTER_DATABASE_URL",
}


def check_url(variable: str, value: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a PostgreSQL URL (no secret echoed)."""
    try:
        parsed = make_url(value)
    except Exception:  # sqlalchemy ArgumentError, ValueError (bad port)
        parsed = None
    if parsed is None or not parsed.drivername.startswith("postgres"):
        shown = value if parsed is None and "@" not in value else "(a URL of another kind)"
        raise ConfigError(
            f"{variable} is not a PostgreSQL URL: {shown}",
            f"expected postgresql://user:password@host:5432/database; unset {variable} "
            "to use the embedded server and demo data",
        )


MAX_DEFAULT_WORKERS = 8


def default_ingest_workers() -> int:
    """The number of cores this process may run on, at most :data:`MAX_DEFAULT_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores))


def parse_ingest_workers(value: str | int | None) -> int:
    """INGEST_WORKERS: a positive integer, or unset/empty for the core count."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default_ingest_workers()
    text = str(value).strip()
    try:
        workers = int(text)
    except ValueError:
        workers = None
    if workers is None or workers < 1:
        raise ConfigError(
            f"INGEST_WORKERS must be a positive integer, got {text!r}",
            "set it to 1 for serial ingestion, to 2 or more for parallel streams, or unset it "
            f"for the number of cores (here {default_ingest_workers()})",
        )
    return workers


@cache
def get_settings() -> Settings:
    """The settings, read once; a malformed URL setting is a :class:`ConfigError`."""
    settings = Settings()
    for field, variable in URL_SETTINGS.items():
        value = getattr(settings, field)
        if value is not None:
            check_url(variable, value)
    parse_ingest_workers(settings.ingest_workers)
    return settings
