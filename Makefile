# NETboard: two commands. `make run` to use it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/netboard

.PHONY: run test lint format install install-dev bench load soak worker clean-embedded stop-embedded browser

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "NETboard needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, load the demo cohort, start the web server (and a worker with a broker)
run: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/run.sh

## browser: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
browser:
	@test -x /usr/bin/chromium || { echo "Installing Debian's chromium for the browser tests..."; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## test: lint, format check, type check of the rules, and the whole test suite on PostgreSQL
test: $(VENV)/.installed-dev browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	DATABASE_URL="$${DATABASE_URL:-$(DATABASE_URL_TEST)}" $(VENV)/bin/pytest -n 2 --dist loadgroup

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks of bench/ (ratios against a baseline measured in the same run)
bench: $(VENV)/.installed-dev
	for script in bench/bench_*.py; do $(PY) $$script || exit 1; done

## load: the Locust load test on a stack of its own (LOAD_USERS, LOAD_SECONDS to change it)
load: $(VENV)/.installed-dev
	$(PY) bench/bench_load.py

## soak: the deadlock soak, one client and two workers (SOAK_SECONDS or SOAK_PATIENTS)
soak: $(VENV)/.installed-dev
	$(PY) bench/bench_soak.py

stop-embedded: $(VENV)/.installed
	$(PY) -m netboard.embedded_pg stop
