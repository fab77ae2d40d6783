# debtflow: every target sets itself up on a machine that has only python3, make and git.
SHELL := /bin/bash
PYTHON ?= python3
BOOT := .venv-bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_COMPILE_BYTECODE := 1
export OMP_WAIT_POLICY := PASSIVE

.DEFAULT_GOAL := help
.PHONY: help install lock demo test test-fast bench lint format clean deploy

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/debtflow: $(UV) requirements.lock pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(BIN)/debtflow ## Create .venv from the lock file (requirements.lock)

lock: $(UV) ## Re-resolve requirements.lock from pyproject.toml (then re-test)
	$(UV) pip compile pyproject.toml --extra dev -p 3.11 --generate-hashes -o requirements.lock

demo: install ## Simulate a billing world, load, train, run the daily flow, build a tape
	$(BIN)/debtflow demo

# test modules run in TEST_JOBS processes (pytest-xdist), each module whole in one of them so that
# a module's built world is built once
TEST_JOBS ?= 2

test: install ## Run every test (unit, integration, end-to-end)
	$(BIN)/pytest -n $(TEST_JOBS) --dist loadfile

test-fast: install ## Run the tests not marked slow
	$(BIN)/pytest -n $(TEST_JOBS) --dist loadfile -m "not slow"

bench: install ## Benchmark the stages at scale (figures go in issue notes)
	$(BIN)/python tests/bench/run.py

lint: install ## ruff on Python, dbt parse on the project
	$(BIN)/ruff check flows models tests
	$(BIN)/ruff format --check flows models tests

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix flows models tests
	$(BIN)/ruff format flows models tests

POOL := debtflow-process

deploy: install ## Register infra/prefect.yaml's deployments with the server at PREFECT_API_URL
	@test -n "$$PREFECT_API_URL" || { echo "set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)"; exit 1; }
	$(BIN)/prefect work-pool inspect $(POOL) > /dev/null 2>&1 || $(BIN)/prefect work-pool create $(POOL) --type process
	$(BIN)/prefect work-pool set-concurrency-limit $(POOL) 1  # one DuckDB writer at a time
	$(BIN)/prefect --no-prompt deploy --all --prefect-file infra/prefect.yaml

clean: ## Remove the virtualenvs and the local home (.debtflow)
	rm -rf $(VENV) $(BOOT) .debtflow dbt_project/target dbt_project/logs
