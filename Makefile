# Lambda Rollouts. `make demo` and `make test` set up their own environments from
# the package registry; only Python 3.11+, make and git are assumed.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin

.PHONY: all demo test lint typecheck unit e2e template local-up clean

all: test

# The project and its test tools. Re-installed when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# aws-sam-cli pins its own boto3 and click: it lives in a venv of its own.
$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

demo: $(VENV)/.installed
	$(BIN)/rollouts local demo

local-up: $(VENV)/.installed
	$(BIN)/rollouts local up --port 4566 --time-scale 0.01

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit -q

e2e: $(VENV)/.installed
	$(BIN)/pytest tests/e2e -q

template: $(VENV)/.installed $(SAM_VENV)/.installed
	$(BIN)/pytest tests/template -q

# Every check: lint, types, and all tests (unit, functions, engine, template, e2e).
test: $(VENV)/.installed $(SAM_VENV)/.installed lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
