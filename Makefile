# CrownSync warehouse — the verbs a newcomer looks for. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCALE ?= 0.1
SEED ?= 7
PY_PACKAGES := crownsync ingestion orchestration serving simulator bench bi/*.py
export PYTHONUNBUFFERED := 1

# --- install: uv (installed with pip when missing) syncs .venv from uv.lock -------------
$(VENV)/.installed: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || { echo "installing uv with pip"; $(PYTHON) -m pip install --quiet --disable-pip-version-check uv; }
	$(PYTHON) -m uv sync --locked --quiet
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Install the locked Python environment into .venv (uv)

# The optional Spark target (docs/spark.md): the locked environment plus the `spark` extra
# (dbt-spark[session], pyspark 3.5). Redone whenever the default install was redone (a plain
# `uv sync --locked` removes the extra again).
$(VENV)/.installed-spark: $(VENV)/.installed
	$(PYTHON) -m uv sync --locked --extra spark --quiet
	@touch $@

.PHONY: install-spark
install-spark: $(VENV)/.installed-spark ## Install the environment with the optional Spark extra (dbt-spark, pyspark)

# --- database --------------------------------------------------------------------------
.PHONY: db-start db-stop db-status
db-start: install ## Start the embedded PostgreSQL (127.0.0.1:5433) unless DATABASE_URL is set
	@$(PY) -m crownsync.warehouse start

db-stop: install ## Stop the embedded PostgreSQL
	@$(PY) -m crownsync.warehouse stop

db-status: install ## Is the embedded server running? URLs (password hidden) and the password file
	@$(PY) -m crownsync.warehouse status

# --- pipeline --------------------------------------------------------------------------
.PHONY: run simulate advance ingest dbt-build report docs
.PHONY: bench
run: db-start ## The main job: demo data (if no real sources), ingest, dbt build, checks, summary
	@$(PY) -m orchestration.run --scale $(SCALE) --seed $(SEED) $(if $(REGENERATE),--regenerate,)

report: db-start ## Static HTML report of the live marts → .warehouse/reports/crownsync_report.html
	@$(PY) -m serving.report

DOCS_PORT ?= 8080
docs: db-start ## dbt docs on http://127.0.0.1:8080 (DOCS_PORT=…; Ctrl-C stops it)
	@$(PY) -m crownsync.dbt docs generate
	@$(MAKE) --no-print-directory docs-serve

.PHONY: docs-serve
docs-serve: install ## Serve the last generated dbt docs (DOCS_PORT=…; Ctrl-C stops it)
	@$(PY) -m crownsync.dbt docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

simulate: db-start ## (Re)generate the demo source world: SCALE=0.1 SEED=7 REGENERATE=1
	@$(PY) -m simulator --scale $(SCALE) --seed $(SEED) $(if $(REGENERATE),--regenerate,)

advance: db-start ## Move the demo world one simulated day forward (new sends, updates, files)
	@$(PY) -m simulator --advance

ingest: db-start ## Load the app database and export files into raw (incremental)
	@$(PY) -m ingestion all

dbt-build: db-start ## dbt build (all models, snapshots, tests) against the warehouse
	@$(PY) -m crownsync.dbt build

.PHONY: spark-jdbc build-spark
spark-jdbc: install ## Locate the PostgreSQL JDBC driver for Spark; apt-get installs libpostgresql-jdbc-java when missing
	@$(PY) -m crownsync.spark jdbc-jar

build-spark: install-spark spark-jdbc db-start ## The three public marts (and their ancestors) on local Spark from the current raw → .warehouse/spark
	@$(PY) -m crownsync.spark build

bench: db-start ## Benchmark on fresh bench_* databases → docs/benchmarks.md: SCALE=1 (default; also runs 0.1), SCALES="0.1 1"; other scales already there are kept (SCALES=10 alone)
	@$(PY) -m bench --scale $(if $(filter command line environment,$(origin SCALE)),$(SCALE),1) $(if $(SCALES),--scales "$(SCALES)",) --command 'make bench$(if $(filter command line environment,$(origin SCALE)), SCALE=$(SCALE),)$(if $(SCALES), SCALES="$(SCALES)",)'

.PHONY: tenant-login
tenant-login: db-start ## A login that sees one tenant's rows: BRAND=<uuid> or RETAILER=<uuid> [LOGIN=name]
	@$(PY) -m serving tenant-login $(if $(BRAND),--brand $(BRAND),) $(if $(RETAILER),--retailer $(RETAILER),) $(if $(LOGIN),--login $(LOGIN),)

.PHONY: tenant-logins grant-logins
tenant-logins: db-start ## List the tenant logins; DROP=<login> drops one
	@$(PY) -m serving tenant-logins $(if $(DROP),--drop $(DROP),)

grant-logins: db-start ## Give analyst / bi_reader a login now from ANALYST_PASSWORD / BI_READER_PASSWORD
	@$(PY) -m serving grant-logins

.PHONY: ui
ui: db-start ## Dagster UI on http://127.0.0.1:3000 (UI_PORT=…; webserver + daemon; Ctrl-C stops both)
	@$(PY) -m orchestration.ui

# --- BI: Apache Superset in its own locked environment (bi/pyproject.toml, bi/uv.lock) --------
BI_VENV := bi/.venv
BI_PY := $(BI_VENV)/bin/python
SUPERSET_PORT ?= 8088
export SUPERSET_PORT

$(BI_VENV)/.installed: bi/pyproject.toml bi/uv.lock $(VENV)/.installed
	@echo "bi: installing Superset's locked environment into $(BI_VENV) (first time: a minute or two) …"
	$(PYTHON) -m uv sync --project bi --locked --quiet
	@touch $@

.PHONY: bi-install bi-provision bi browser
bi-install: $(BI_VENV)/.installed ## Install Superset's own locked environment into bi/.venv

browser: ## Debian's Chromium for the BI browser test (apt-get, when /usr/bin/chromium is missing)
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "browser: /usr/bin/chromium is missing: installing Debian's chromium with apt-get (needs root) …"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| { echo "error: could not install chromium: run 'apt-get install -y chromium' as root" >&2; exit 2; }; \
	fi

bi-provision: db-start bi-install ## Provision Superset (metadata, admin, warehouse as bi_reader, datasets, dashboards, tenants) without serving
	@$(PY) -m serving bi-prepare
	@$(BI_PY) bi/provision.py

bi: bi-provision ## Apache Superset on http://127.0.0.1:8088 with the three dashboards (SUPERSET_PORT=…; Ctrl-C stops it)
	@$(BI_PY) bi/serve.py --port $(SUPERSET_PORT)

# --- quality ---------------------------------------------------------------------------
.PHONY: test lint drill
test: install-spark spark-jdbc bi-install browser ## Run the test suite (real PostgreSQL, real dbt, real Dagster, real Spark), drills included
	@$(VENV)/bin/pytest --durations=25

drill: install ## Fault drills only: kill -9, server restarts, concurrent runs (docs/reliability.md)
	$(VENV)/bin/pytest tests/drills -q

lint: install ## ruff + sqlfluff
	$(VENV)/bin/ruff check $(PY_PACKAGES) tests
	$(VENV)/bin/ruff format --check $(PY_PACKAGES) tests
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/snapshots dbt_project/tests --processes 2

# --- housekeeping ----------------------------------------------------------------------
.PHONY: clean help
clean: ## Stop the embedded server and delete .warehouse/ (data, password files, landing, Dagster home)
	@if [ -x $(PY) ]; then $(PY) -m crownsync.warehouse clean; fi
	rm -rf .warehouse dbt_project/target dbt_project/logs .pytest_cache

help:
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-12s %s\n", $$1, $$2}'
