# Lambda Rollouts. `make demo` and `make test` set up their own environments from
# the package registry; only Python 3.11+, make and git are assumed.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin

.PHONY: all demo demo-keep test lint typecheck unit e2e template local-up clean

all: test

# The project and its test tools. Re-installed when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# tests/iam evaluates recorded AWS calls with @cloud-copilot/iam-simulate (Node 18+), pinned
# by tests/iam/package-lock.json. Node and npm come from the system (Debian: apt-get).
IAM_SIM := tests/iam/node_modules/.installed
$(IAM_SIM): tests/iam/package-lock.json
	@command -v npm >/dev/null || { command -v apt-get >/dev/null && apt-get update -q && apt-get install -y -q nodejs npm; } \
		|| { echo "tests/iam needs node and npm: install them" >&2; exit 1; }
	npm ci --prefix tests/iam --no-audit --no-fund
	touch $@

# The console's browser tests drive Debian's Chromium through Playwright, never a browser
# of Playwright's own (nothing is downloaded outside the package registries).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser tests need Chromium at $(CHROMIUM): install it" >&2; exit 1; }
	apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }

# aws-sam-cli pins its own boto3 and click: it lives in a venv of its own.
$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

demo: $(VENV)/.installed
	$(BIN)/rollouts local demo

# The demo, then its engine and console stay up until Ctrl-C.
demo-keep: $(VENV)/.installed
	$(BIN)/rollouts local demo --keep

local-up: $(VENV)/.installed
	$(BIN)/rollouts local up --port 4566 --time-scale 0.01

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit -q

e2e: $(VENV)/.installed $(IAM_SIM) $(CHROMIUM)
	$(BIN)/pytest tests/e2e tests/iam -q

template: $(VENV)/.installed $(SAM_VENV)/.installed $(IAM_SIM)
	$(BIN)/pytest tests/template -q

# Every check: lint, types, and all tests (unit, functions, engine, template, e2e).
# Test files run on one worker process more than the machine has cores, up to 4 (each
# with its own local engine): part of an e2e test's time is a compressed wait, and the
# extra worker keeps the cores busy meanwhile (2 cores: 417 s instead of 468 s). A file's
# tests stay together on one worker, so module fixtures run once.
WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, (os.cpu_count() or 1) + 1))")
test: $(VENV)/.installed $(SAM_VENV)/.installed $(IAM_SIM) $(CHROMIUM) lint typecheck
	$(BIN)/pytest -q -n $(WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache tests/iam/node_modules test-screenshots
