# CrownSync warehouse — the verbs a newcomer looks for. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCALE ?= 0.1
SEED ?= 7
export PYTHONUNBUFFERED := 1

# --- install: uv (installed with pip when missing) syncs .venv from uv.lock -------------
$(VENV)/.installed: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || { echo "installing uv with pip"; $(PYTHON) -m pip install --quiet --disable-pip-version-check uv; }
	$(PYTHON) -m uv sync --locked --quiet
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Install the locked Python environment into .venv (uv)

# --- database --------------------------------------------------------------------------
.PHONY: db-start db-stop db-status
db-start: install ## Start the embedded PostgreSQL (127.0.0.1:5433) unless DATABASE_URL is set
	@$(PY) -m ingestion.db start

db-stop: install ## Stop the embedded PostgreSQL
	@$(PY) -m ingestion.db stop

db-status: install ## Is the embedded server running? Prints the connection URLs
	@$(PY) -m ingestion.db status

# --- pipeline --------------------------------------------------------------------------
.PHONY: run simulate advance ingest dbt-build
run: db-start ## The main job: demo data (if no real sources), ingest, dbt build, checks, summary
	@$(PY) -m orchestration.run --scale $(SCALE) --seed $(SEED) $(if $(REGENERATE),--regenerate,)

simulate: db-start ## (Re)generate the demo source world: SCALE=0.1 SEED=7 REGENERATE=1
	@$(PY) -m ingestion.simulator --scale $(SCALE) --seed $(SEED) $(if $(REGENERATE),--regenerate,)

advance: db-start ## Move the demo world one simulated day forward (new sends, updates, files)
	@$(PY) -m ingestion.simulator --advance

ingest: db-start ## Load the app database and export files into raw (incremental)
	@$(PY) -m ingestion all

dbt-build: db-start ## dbt build (all models, snapshots, tests) against the warehouse
	@$(PY) -m ingestion.dbt_cli build

.PHONY: ui
ui: db-start ## Dagster UI on http://127.0.0.1:3000 (webserver + daemon; Ctrl-C stops both)
	@$(PY) -m orchestration.ui

# --- quality ---------------------------------------------------------------------------
.PHONY: test lint
test: install ## Run the test suite (real PostgreSQL, real dbt, real Dagster)
	@$(VENV)/bin/pytest

lint: install ## ruff + sqlfluff
	$(VENV)/bin/ruff check ingestion orchestration tests
	$(VENV)/bin/ruff format --check ingestion orchestration tests
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/snapshots dbt_project/tests --processes 2

# --- housekeeping ----------------------------------------------------------------------
.PHONY: clean help
clean: ## Stop the embedded server and delete .warehouse/ (data, landing files, Dagster home)
	@if [ -x $(PY) ]; then $(PY) -m ingestion.db clean; fi
	rm -rf .warehouse dbt_project/target dbt_project/logs .pytest_cache

help:
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-12s %s\n", $$1, $$2}'
