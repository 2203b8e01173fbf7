# Two commands do everything (see README): `make book` and `make test`.
# Each creates the virtual environment in .venv on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
# The offline copies of the data sets; override with CGP_DATA_DIR=... make ...
export CGP_DATA_DIR ?= $(abspath ../shared/data)
# Trained weights are cached here (keyed by architecture, data and seed).
export CGP_CACHE_DIR ?= $(abspath .cache)
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: venv test lint book book-build bench clean chromium wheel-smoke

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The library's tests, then every notebook under the quick profile with nbval (papermill injects
# the parameters into fresh copies in notebooks/_prepared). nbval's execution is kept
# (notebooks/conftest.py writes it to notebooks/_executed), and the book is built from it: each
# notebook runs once.
test: $(STAMP) chromium wheel-smoke
	rm -rf notebooks/_prepared notebooks/_executed
	$(PY) notebooks/execute.py --profile quick --prepare-only --out notebooks/_prepared
	env -u CGP_ALIBI_CACHE_DIR CGP_NBVAL_SAVE_DIR=notebooks/_executed CGP_PROFILE=quick CGP_CLAIMS_DIR=$(abspath notebooks/_executed/claims) \
		$(PY) -m pytest -q tests notebooks/_prepared --ignore=tests/book \
		--nbval-lax --nbval-current-env --durations=40
	$(MAKE) book-build

# Build the wheel and the sdist, install the wheel into a fresh virtual environment that sees its
# runtime dependencies only (linked from .venv: offline), and explain a few rows there.
wheel-smoke: $(STAMP)
	$(PY) tests/wheel/smoke.py

# ruff (configured in pyproject.toml): lint and formatting of the library, tests and scripts.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check cgp_lib tests bench book/_ext notebooks/execute.py notebooks/conftest.py notebooks/pages.py

# Execute the notebooks with papermill under PROFILE (quick or full), then build the book.
book: $(STAMP) chromium
	$(PY) notebooks/execute.py --profile $(PROFILE)
	$(MAKE) book-build

# Build the book from the executed copies in notebooks/_executed with execution off (any warning
# fails the build), then open the pages in headless Chromium (tests/book; screenshots in
# _build/screenshots).
book-build: $(STAMP) chromium
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) -m pytest -q tests/book

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf _build .pytest_cache
