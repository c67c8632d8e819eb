# Leuchtturm – the two commands: `make run` and `make test`.
# Everything they need is installed here; nothing is done by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV_DIR := .cache/uv-tool
UV := $(UV_DIR)/bin/uv
UV_VERSION := 0.13.8
FERRETDB_BIN := bin/leuchtturm-ferretdb
FERRETDB_SRC := $(wildcard tools/ferretdb/*.go) tools/ferretdb/go.mod tools/ferretdb/go.sum
# FerretDB 1.24.2 was released with Go 1.24.3; used only if the machine's Go fails to build it.
FALLBACK_GOTOOLCHAIN := go1.24.3

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test test-meili install ferretdb browser node-deps lint clean help bench

help:
	@echo "make run    – installieren und den Dienst auf http://127.0.0.1:8000 starten"
	@echo "make test   – installieren, prüfen (make lint) und alle Tests ausführen"
	@echo "make lint   – ruff und mypy"
	@echo "make test-meili – wie make test, zusätzlich gegen Meilisearch (LEUCHTTURM_TEST_MEILI_URL oder ../shared/tools/meilisearch)"

run: install
	@if [ -z "$$LEUCHTTURM_MONGODB_URL" ]; then $(MAKE) --no-print-directory ferretdb; fi
	$(VENV)/bin/leuchtturm serve

test: install ferretdb node-deps browser lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The same suite with its Meilisearch variants: against LEUCHTTURM_TEST_MEILI_URL (+ _KEY) when set,
# else a throw-away server from LEUCHTTURM_MEILI_BIN or ../shared/tools/meilisearch/meilisearch.
test-meili: install ferretdb node-deps browser lint
	PYTHON=$(VENV)/bin/python tools/with-meilisearch $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The gates: ruff (rules and exceptions in pyproject.toml) and mypy (strict on catalogue/).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

install: $(VENV)/.installed

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 oder neuer wird benötigt")'
	$(PYTHON) -m venv $(UV_DIR)
	$(UV_DIR)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python "$$(command -v $(PYTHON))"
	@touch $@

ferretdb: $(FERRETDB_BIN)

$(FERRETDB_BIN): $(FERRETDB_SRC)
	@command -v go >/dev/null || { echo "Go 1.24 oder neuer fehlt: 'apt-get install golang-go' (oder https://go.dev/dl), oder LEUCHTTURM_MONGODB_URL auf eine MongoDB setzen." >&2; exit 1; }
	@mkdir -p bin
	cd tools/ferretdb && go build -trimpath -o ../../$(FERRETDB_BIN) . \
	  || GOTOOLCHAIN=$(FALLBACK_GOTOOLCHAIN) go build -trimpath -o ../../$(FERRETDB_BIN) .

# axe-core for the accessibility checks in the browser tests (from the npm registry, locked).
node-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

# Debian's Chromium for the browser tests; installed through apt when missing and we may.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installiere Chromium über apt …"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "Chromium konnte nicht installiert werden; Browser-Tests werden übersprungen." >&2; \
	  else echo "Chromium fehlt (/usr/bin/chromium); Browser-Tests werden übersprungen." >&2; fi; \
	fi

bench: install ferretdb
	$(VENV)/bin/python benchmarks/search.py
	$(VENV)/bin/python benchmarks/pdf.py
	$(VENV)/bin/python benchmarks/import_ndjson.py

clean:
	rm -rf $(VENV) $(UV_DIR) bin tests/artifacts
