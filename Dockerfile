# CrownSync warehouse image: the locked Python environment, the project, a parsed dbt
# manifest and a DAGSTER_HOME. One image for every process of the team deployment
# (docker-compose.yml): dagster-webserver, dagster-daemon, one-off `python -m ...` commands.
#
#   docker build -t crownsync-warehouse .
#   docker run --rm crownsync-warehouse python -m ingestion --help
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    DAGSTER_HOME=/opt/dagster/home \
    DBT_PROFILES_DIR=/app \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app

# dependencies first (cached while uv.lock is unchanged), exactly as locked
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project --no-cache

# the project itself; dbt's manifest is parsed now so the code location loads at once
COPY . .
RUN uv sync --locked --no-cache \
    && dbt parse --project-dir dbt_project --quiet \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin crownsync \
    && mkdir -p "$DAGSTER_HOME" /data/landing \
    && cp orchestration/dagster.yaml "$DAGSTER_HOME/dagster.yaml" \
    && chmod 0755 orchestration/docker-entrypoint.sh \
    && chown -R crownsync:crownsync "$DAGSTER_HOME" dbt_project

USER crownsync
EXPOSE 3000

# prepares DAGSTER_HOME (dagster.yaml + DAGSTER_PG_* from DAGSTER_DATABASE_URL), then execs
ENTRYPOINT ["/app/orchestration/docker-entrypoint.sh"]
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-m", "orchestration.definitions"]
