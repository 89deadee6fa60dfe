#!/bin/sh
# The steps of `make bi`: the warehouse side (bi_reader login, Superset's metadata database,
# tenants), provisioning (idempotent), then Superset on 0.0.0.0:8088 inside the container.
set -e
python -m serving bi-prepare
/app/bi/.venv/bin/python /app/bi/provision.py
exec /app/bi/.venv/bin/python /app/bi/serve.py --host 0.0.0.0 --port 8088 "$@"
