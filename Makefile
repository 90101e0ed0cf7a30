# Two commands set everything up: `make run` serves on SQLite, `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install run test lint types unit openapi diagram

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

test: lint types
	$(BIN)/pytest

openapi: install
	$(BIN)/kasane openapi

diagram: install
	$(BIN)/kasane diagram
