# dacu — two commands on a fresh machine with Python 3.11, pip and make:
#   make demo   simulate a Double 11 campaign, load it, plan it, monitor it, write its review
#   make test   run every test: two workers, a file per worker (its fixtures built once), the
#               slowest files first (tests/conftest.py). Not loadgroup: with pytest 9 xdist's
#               xdist_group marks no longer reach the scheduler, the groups were split.
#   make check  lint (ruff), types (mypy), then every test — what CI runs
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,spark,redis,postgres]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dacu demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# the peers that need their own environment (django-oscar, pymc-marketing) go to .bench/ from
# PyPI, the programs (wrk, redis-benchmark, a Redis server) come from apt-get; a peer that cannot
# be set up is reported and its benchmark says "peer not run" or fails, naming what is missing
bench-peers: $(STAMP)
	-$(BIN)/python benchmarks/_peers.py

bench: bench-peers
	$(BIN)/dacu bench all

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache .mypy_cache .bench
