# integration-hub: `make run` serves the demo on 127.0.0.1:8000, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/integration-hub db upgrade
	$(BIN)/integration-hub demo
	$(BIN)/integration-hub serve

serve: $(VENV)/.installed
	$(BIN)/integration-hub serve

# The test authorization server is an npm package; without npm its tests skip locally.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: tests needing the OAuth2 test server will be skipped"; fi

test: $(VENV)/.installed-test node_modules/.package-lock.json
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks (docs/performance.md): each prints its figures and ratios; about 6 minutes in all.
# They need wrk and nginx (installed here when running as root on Debian), PostgreSQL and npm.
bench: $(VENV)/.installed-test node_modules/.package-lock.json
	@command -v wrk >/dev/null && { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || \
		{ [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk nginx >/dev/null; } || \
		{ echo "bench needs wrk and nginx: apt-get install wrk nginx"; exit 1; }
	$(BIN)/python -m bench

lint: $(VENV)/.installed-test
	$(BIN)/ruff check integration_hub tests alembic bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
