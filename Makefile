# integration-hub: `make run` serves the demo on 127.0.0.1:8000, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint serve clean

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

lint: $(VENV)/.installed-test
	$(BIN)/ruff check integration_hub tests alembic

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
