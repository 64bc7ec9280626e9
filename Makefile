# The commands the README shows. `make run` serves the demo; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only for the help text: scripts/run-demo and `mar` read MAR_HOST/MAR_PORT from the environment
# or .env themselves (exporting defaults here would hide .env's values).
MAR_HOST ?= 127.0.0.1
MAR_PORT ?= 8000

.PHONY: help run test lint typecheck pytest schema bench devdb-start devdb-stop lock docker-lint clean

help:
	@echo "make run    - serve the demo on http://$(MAR_HOST):$(MAR_PORT) (GraphiQL at /graphql)"
	@echo "make test   - lint, type check and the whole test suite"
	@echo "make bench  - benchmarks (figures go to bench/results/)"
	@echo "make schema - regenerate api/graphql/schema.graphql"
	@echo "make lock   - re-resolve requirements*.lock from pyproject.toml"

$(STAMP): pyproject.toml requirements.lock requirements.build.lock
	@scripts/bootstrap-venv $(PYTHON) $(VENV)
	@touch $(STAMP)

# Serve the demo: private database unless DATABASE_URL is set, migrate, seed when empty, serve.
run: $(STAMP)
	@scripts/run-demo

test: $(STAMP) lint typecheck docker-lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

docker-lint: $(STAMP)
	$(BIN)/hadolint --failure-threshold warning Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

pytest: $(STAMP)
	@scripts/with-test-db $(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

schema: $(STAMP)
	$(BIN)/mar schema > api/graphql/schema.graphql

bench: $(STAMP)
	@scripts/with-test-db $(BIN)/python -m bench $(BENCH_ARGS)

devdb-start:
	@scripts/devdb start
devdb-stop:
	@scripts/devdb stop

lock: $(STAMP)
	$(BIN)/pip install --quiet "uv>=0.9"
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -q -o requirements.prod.lock
	echo "setuptools>=77" | $(BIN)/uv pip compile - --generate-hashes --python-version 3.11 -q -o requirements.build.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
