# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow check audit bench venv clean images

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

## Run the whole job on the built-in simulated customer base.
demo: $(STAMP)
	$(BIN)/riskmodel demo

## Run the test suite (unit, look-ahead, integration, HTTP service): everything not marked slow.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" tests

## Static checks, run by CI before the tests: lint (ruff), types (mypy on src/), the import
## layers of the README's architecture (import-linter), and the docstring examples.
check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider --doctest-modules src/riskmodel

## The heavy end-to-end checks (notebooks executed, training and serving through the CLI on a
## simulated base, the Spark engine); CI runs them after `make test`. tests/conftest.py gives each
## process one OpenMP thread and starts the longest units of work first.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m slow tests

## Known vulnerabilities in the installed packages (pip-audit; fails on a finding, says so when it cannot check).
audit: $(STAMP)
	$(BIN)/python tools/audit_deps.py

## Performance and quality benchmarks (not part of the test suite).
bench: $(STAMP)
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/service.py

## README images from the demo's outputs (needs Debian's chromium).
images: $(STAMP)
	$(BIN)/python tools/make_images.py

clean:
	rm -rf $(VENV) data/generated mlruns.db mlartifacts
