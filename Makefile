# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/tousu
# Browser tests (tests/browser) drive Debian's Chromium; pytest skips them when it is absent.
TOUSU_CHROMIUM ?= /usr/bin/chromium
export TOUSU_CHROMIUM

.PHONY: demo test install install-dev lint typecheck browser-check test-browser test-sqlite test-postgres messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: set up, migrate the embedded SQLite database, load demo data, run web + worker.
demo: install
	$(BIN)/tousu demo

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/tousu makemigrations --check --dry-run
	$(BIN)/mypy src
	$(BIN)/lint-imports  # the layers of ARCHITECTURE.md ([tool.importlinter] in pyproject.toml)

typecheck: install-dev
	$(BIN)/mypy src

browser-check:
	@if [ -x "$(TOUSU_CHROMIUM)" ]; then \
		echo "== browser tests: Chromium at $(TOUSU_CHROMIUM), run with the suite =="; \
	else \
		echo "== browser tests: Chromium not found at $(TOUSU_CHROMIUM), skipped =="; \
	fi

## make test-browser: only the browser tests (Playwright driving Debian's Chromium), on SQLite.
test-browser: install-dev browser-check
	env -u TOUSU_DATABASE_URL TOUSU_DATA_DIR=$(CURDIR)/test-artifacts/data $(BIN)/pytest tests/browser

test-sqlite: install-dev
	@echo "== tests on SQLite =="
	env -u TOUSU_DATABASE_URL TOUSU_DATA_DIR=$(CURDIR)/test-artifacts/data $(BIN)/pytest

test-postgres: install-dev
	@url="$${TOUSU_TEST_DATABASE_URL:-$(PG_TEST_URL)}"; \
	if $(BIN)/python -c "import sys, psycopg; psycopg.connect(sys.argv[1].rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" "$$url" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($$url) =="; \
		TOUSU_DATABASE_URL="$$url" TOUSU_DATA_DIR=$(CURDIR)/test-artifacts/data $(BIN)/pytest; \
	else \
		echo "== PostgreSQL not reachable at $$url: PostgreSQL tests SKIPPED =="; \
	fi

## make test: linters, then the whole suite on SQLite and (when reachable) PostgreSQL.
test: lint browser-check test-sqlite test-postgres

messages: install-dev
	$(BIN)/python scripts/compile_messages.py

clean:
	rm -rf $(VENV) test-artifacts build dist src/*.egg-info
