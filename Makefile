# One interface for the team: `make run` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
HOME_DIR ?= .covid-pipeline
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup java run test test-fast lint format clean validate

help:
	@echo "make run    - set up and run the pipeline locally on the bundled sample (data/sample)"
	@echo "make test   - set up and run lint + the whole test suite"
	@echo "make lint   - ruff, ruff format --check, cfn-lint"
	@echo "make clean  - remove the local pipeline home ($(HOME_DIR))"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12)), "Python 3.11 or 3.12 needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[spark,dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Local PySpark needs a Java runtime (Glue 5.0 runs Java 17).
java:
	@if ! java -version >/dev/null 2>&1; then \
		echo "Java not found: installing openjdk-17-jre-headless with apt"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; \
	fi

setup: $(STAMP) java

run: setup
	$(BIN)/covid-pipeline run --home $(HOME_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup lint
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(HOME_DIR)
