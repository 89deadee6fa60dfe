"""Superset's configuration for the CrownSync warehouse (loaded through SUPERSET_CONFIG_PATH).

Everything secret comes from BI_HOME (``.warehouse/bi`` by default, files mode 0600), written
by ``python -m serving bi-prepare`` and ``bi/provision.py``; nothing secret is in the repo.
"""

import json
import os
from pathlib import Path

_HOME = Path(os.environ["BI_HOME"])
_CONNECTION = json.loads((_HOME / "connection.json").read_text())

SECRET_KEY = (_HOME / "superset_secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = _CONNECTION["metadata_url"].replace(
    "postgresql://", "postgresql+psycopg2://", 1
)
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}

# Local, single-host deployment: no telemetry, no example data, no thumbnails.
SUPERSET_WEBSERVER_ADDRESS = "127.0.0.1"
SCARF_ANALYTICS = False
FEATURE_FLAGS = {
    "DASHBOARD_RBAC": False,
    "EMBEDDED_SUPERSET": False,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
    # RLS filters also apply to the physical tables a SQL Lab query or a virtual dataset reads
    "RLS_IN_SQLLAB": True,
}
# SQL Lab: no DML/DDL is also set on the database itself (allow_dml: false); the role
# bi_reader could not write anyway.
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50000
SQL_MAX_ROW = 100000
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False  # served on 127.0.0.1 only; put a proxy with TLS in front to share it
SESSION_COOKIE_SAMESITE = "Lax"
SUPERSET_LOG_VIEW = False
LOG_LEVEL = os.environ.get("SUPERSET_LOG_LEVEL", "WARNING")
CONTENT_SECURITY_POLICY_WARNING = False
