# Jupiter: `make demo` to try it, `make test` to check it. Both bootstrap .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

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

# the bench-only extra (matplotlib for the plots, py-spy): never needed by `make test`
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# `make bench BENCH_ARGS="--n 100 --knee-budget 300"` for a smaller run
bench: $(BENCH_STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
