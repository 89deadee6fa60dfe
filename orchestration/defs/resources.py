"""Resources shared by every area: where the warehouse and the sources are.

Values left unset are resolved from the project settings (``DATABASE_URL``,
``SOURCE_DATABASE_URL``, ``LANDING_DIR``, or the embedded defaults) when a run uses the
resource — never at import time, so loading the definitions reads no environment.
"""

from pathlib import Path

import dagster as dg
import psycopg

from crownsync.settings import get_settings, libpq_url
from crownsync.warehouse.connections import connect_source, connect_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse PostgreSQL and the two sources it reads."""

    database_url: str | None = None
    source_database_url: str | None = None
    landing_dir: str | None = None

    @property
    def url(self) -> str:
        return libpq_url(self.database_url or get_settings().warehouse_url)

    @property
    def source_url(self) -> str:
        return libpq_url(self.source_database_url or get_settings().source_url)

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else get_settings().landing_path

    def connect(self, **kwargs) -> psycopg.Connection:
        """A warehouse connection acting as the owner role (see crownsync.warehouse.connections)."""
        return connect_warehouse(self.url, application_name="crownsync-dagster", **kwargs)

    def connect_source(self) -> psycopg.Connection:
        conn = connect_source(
            self.source_url, application_name="crownsync-dagster", autocommit=True
        )
        conn.execute("set default_transaction_read_only = on")
        return conn
