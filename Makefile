# Two commands set up a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint pcaps bench clean

$(STAMP): pyproject.toml poolsniff/_walk.c tools/hatch_build.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	$(BIN)/python -m compileall -q poolsniff  # as a wheel install does: no compiling at each start
	touch $(STAMP)

## demo: create the virtualenv, install poolsniff, scan the bundled captures
demo: $(STAMP)
	$(BIN)/poolsniff scan pcaps/ || [ $$? -eq 1 ]

## test: run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check poolsniff tests tools benchmarks
	$(BIN)/mypy

## pcaps: regenerate the demo captures (then review the expected-alert files)
pcaps: $(STAMP)
	$(BIN)/python tools/make_pcaps.py --out pcaps

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scan.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
