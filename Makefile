# Jupiter: `make demo` to try it, `make test` to check it. Both bootstrap .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jupiter console --offline

lint: $(STAMP)
	$(BIN)/ruff check core bots tests
	$(BIN)/ruff format --check core bots tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	sh tests/ensure_postgres.sh
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
