# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test lint bench bench-ingest bench-otlp clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

run: $(STAMP)
	$(BIN)/driftwarden demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --diff .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Every ratio of the performance issues in one run: one command a line, each benchmark printing its own.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/drift.py --section startup --section e2e --section update --section compare --section floor
	$(BIN)/python benchmarks/ingest.py --duration 5
	$(BIN)/python benchmarks/models.py

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

bench-otlp: $(STAMP)
	$(BIN)/python benchmarks/otlp.py --gzip

clean:
	rm -rf $(VENV) driftwarden-data .pytest_cache
