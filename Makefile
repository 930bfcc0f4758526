# Two commands set up a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.dev-installed

.PHONY: demo test lint docs pcaps bench clean

# the modules mypyc compiles (poolsniff/native.py lists them): an edited one is compiled again
NATIVE := $(shell $(PYTHON) -c 'import runpy; print(*(m.replace(".", "/") + ".py" for m in runpy.run_path("poolsniff/native.py")["COMPILED"]))')

$(STAMP): pyproject.toml $(wildcard poolsniff/*/_*.c poolsniff/*/*/_*.c) tools/hatch_build.py poolsniff/native.py $(NATIVE)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "installing poolsniff into $(VENV) (with a C compiler, its hot modules are compiled: about a minute)"
	$(BIN)/python -m pip install -q -e .   # what running needs, nothing more
	$(BIN)/python -m compileall -q poolsniff  # as a wheel install does: no compiling at each start
	@$(BIN)/poolsniff --version
	touch $(STAMP)

# the test and lint tools, only for `make test` / `make lint`
$(DEV): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	touch $(DEV)

## demo: create the virtualenv, install poolsniff, scan the bundled captures
demo: $(STAMP)
	$(BIN)/poolsniff scan pcaps/ || [ $$? -eq 1 ]

## test: run the whole test suite
test: $(DEV)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check poolsniff tests tools benchmarks
	$(BIN)/mypy

## docs: regenerate the references made from the code: docs/cli.md, docs/signatures.md, docs/alert-fields.md
docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py

## pcaps: regenerate the demo captures (then review the expected-alert files)
pcaps: $(STAMP)
	$(BIN)/python tools/make_pcaps.py --out pcaps

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scan.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
