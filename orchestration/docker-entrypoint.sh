#!/bin/sh
# Entrypoint of the CrownSync image (Dockerfile): prepare, then exec the command.
#
# 1. drops empty optional settings (compose passes `VAR=` for unset ones; the project treats
#    "unset" and "empty" differently);
# 2. waits for PostgreSQL, writes DAGSTER_HOME/dagster.yaml and creates Dagster's storage
#    database (orchestration.instance.prepare_dagster_home), exporting DAGSTER_PG_* / DBT_PG_*;
# 3. with CROWNSYNC_PREPARE_WAREHOUSE=1: bootstraps the warehouse (roles, schemas) and, when
#    BI_READER_PASSWORD is set, lets the role bi_reader log in with that password;
# 4. execs the command (dagster-webserver, dagster-daemon, python -m ...).
set -eu

for name in SOURCE_DATABASE_URL LANDING_DIR DAGSTER_DATABASE_URL BI_READER_PASSWORD; do
    eval "value=\${$name-}"
    if [ -z "$value" ]; then
        unset "$name"
    fi
done

exports=$(python - <<'PY'
import os
import shlex
import sys
import time

import psycopg
from psycopg import sql

from crownsync.settings import get_settings, libpq_url
from orchestration.instance import prepare_dagster_home

settings = get_settings()
for attempt in range(60):
    try:
        env = prepare_dagster_home(settings)
        break
    except psycopg.OperationalError as exc:
        print(f"entrypoint: waiting for PostgreSQL ({exc.__class__.__name__})", file=sys.stderr)
        time.sleep(2)
else:
    sys.exit("entrypoint: PostgreSQL did not answer in 120 s; check DATABASE_URL")

if os.environ.get("CROWNSYNC_PREPARE_WAREHOUSE") == "1":
    from crownsync.warehouse.bootstrap import bootstrap_warehouse

    url = libpq_url(settings.warehouse_url)
    bootstrap_warehouse(url)
    password = os.environ.get("BI_READER_PASSWORD")
    if password:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter role bi_reader with login password {}").format(sql.Literal(password))
            )
        print("entrypoint: bi_reader may log in (password from BI_READER_PASSWORD)", file=sys.stderr)

for key, value in env.items():
    print(f"export {key}={shlex.quote(value)}")
PY
)
eval "$exports"
unset exports

exec "$@"
