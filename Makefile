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

.PHONY: venv test book bench clean chromium

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The library's tests, every notebook under the quick profile with nbval (papermill injects
# the parameters into fresh copies in notebooks/_prepared), then the book under the quick
# profile, checked in headless Chromium.
test: $(STAMP)
	rm -rf notebooks/_prepared
	$(PY) notebooks/execute.py --profile quick --prepare-only --out notebooks/_prepared
	$(PY) -m pytest -q tests notebooks/_prepared --ignore=tests/book --nbval-lax --nbval-current-env
	$(MAKE) book PROFILE=quick

# Execute the notebooks with papermill under PROFILE (quick or full), build the book from the
# executed copies with execution off (any warning fails the build), then open the pages in
# headless Chromium (tests/book; screenshots in _build/screenshots).
book: $(STAMP) chromium
	$(PY) notebooks/execute.py --profile $(PROFILE)
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) -m pytest -q tests/book

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf _build .pytest_cache
