# integration-hub: `make run` serves the demo on 127.0.0.1:8000, `make test` runs every test.
# Another port: `make run PORT=8100` (or HUB_BIND=host:port in the environment).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# Tests run in parallel worker processes (pytest-xdist; tests/support/workers.py keeps them
# apart): most wait on servers, so four on two cores took 6 minutes where one took 15, and
# worksteal evens out the long ones. XDIST="-n 0", or PYTEST_ARGS with -n 0 or -p no:xdist,
# runs them in one process.
XDIST  ?= -n 4 --dist worksteal
PORT   ?= 8000
# A PORT given to make wins over an inherited HUB_BIND; without one, HUB_BIND or the default.
ifneq ($(filter command line environment,$(origin PORT)),)
BIND   := 127.0.0.1:$(PORT)
else
BIND   := $(or $(HUB_BIND),127.0.0.1:$(PORT))
endif

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

# The address is checked first: nothing is seeded for a port another program holds.
run: $(VENV)/.installed
	HUB_BIND='$(BIND)' $(BIN)/integration-hub serve --check
	$(BIN)/integration-hub db upgrade
	HUB_BIND='$(BIND)' $(BIN)/integration-hub demo
	HUB_BIND='$(BIND)' $(BIN)/integration-hub serve

serve: $(VENV)/.installed
	HUB_BIND='$(BIND)' $(BIN)/integration-hub serve

# The test authorization server is an npm package; without npm its tests skip locally.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: tests needing the OAuth2 test server will be skipped"; fi

test: $(VENV)/.installed-test node_modules/.package-lock.json
	$(BIN)/pytest $(if $(findstring no:xdist,$(PYTEST_ARGS)),,$(XDIST)) $(PYTEST_ARGS)

# Benchmarks (docs/performance.md): each prints its figures and ratios; about 6 minutes in all.
# They need wrk and nginx (installed here when running as root on Debian), PostgreSQL and npm.
bench: $(VENV)/.installed-test node_modules/.package-lock.json
	@command -v wrk >/dev/null && { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || \
		{ [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk nginx >/dev/null; } || \
		{ echo "bench needs wrk and nginx: apt-get install wrk nginx"; exit 1; }
	$(BIN)/python -m bench

lint: $(VENV)/.installed-test
	$(BIN)/ruff check integration_hub tests alembic bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
