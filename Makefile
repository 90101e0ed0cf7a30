# Two commands set everything up: `make run` serves on SQLite, `make test` runs the whole suite
# (lint, types, the suite on SQLite, then on a throw-away PostgreSQL cluster when its binaries
# are installed). `make test-postgres` runs only the PostgreSQL suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install run test test-sqlite test-postgres lint types unit openapi diagram bench

$(BIN)/kasane: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/kasane

run: install
	$(BIN)/kasane serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

test: lint types test-sqlite
	@if $(BIN)/python -m tests.pgcluster found; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!!! PostgreSQL binaries not found: SKIPPED the PostgreSQL suite"; \
		echo "!!! (install them, e.g. apt-get install -y postgresql, then make test-postgres)"; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

test-sqlite: install
	env -u KASANE_TEST_POSTGRES $(BIN)/pytest

# A throw-away cluster (tests/pgcluster.py) in a temp dir on a free loopback port.
test-postgres: install
	$(BIN)/python -m tests.pgcluster run -- $(BIN)/pytest

openapi: install
	$(BIN)/kasane openapi

diagram: install
	$(BIN)/kasane diagram

# Benchmarks (not part of `make test`): ratios against floors measured in the same run, printed
# as a table and written to bench/results/. BENCH_SCALE=small for a quick run (bench/README.md).
bench: install
	$(BIN)/python -m bench.run
