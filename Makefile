# One interface for the team: `make run` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
HOME_DIR ?= .covid-pipeline
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# SAM CLI and checkov live in their own virtualenvs (they pin boto3 differently from each other and
# from the project), under .venv-tools/, with .venv-tools/bin/{sam,checkov} linking to them.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-$(shell cat requirements-tools.txt requirements-checkov.txt | sha1sum | cut -c1-12)
# sam build runs on the local interpreter (no Docker): the Lambda runtime is overridden to match it.
LOCAL_RUNTIME := python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Nothing here talks to AWS: fake credentials and a region only satisfy the tools' client set-up.
OFFLINE_AWS := env -u AWS_PROFILE AWS_DEFAULT_REGION=us-east-2 AWS_ACCESS_KEY_ID=testing \
	AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

STACK ?= covid-pipeline-dev

.PHONY: help setup java run test test-fast lint format clean validate tools glue-package deploy bench

help:
	@echo "make run    - set up and run the pipeline locally on the bundled sample (data/sample)"
	@echo "make test   - set up and run lint + the whole test suite"
	@echo "make lint   - ruff, ruff format --check, cfn-lint"
	@echo "make validate - sam validate --lint, sam build (local Python, no Docker), checkov"
	@echo "make bench  - generate full-scale synthetic raw data and measure the pipeline (BENCH_ARGS=...)"
	@echo "make deploy - sam build + sam deploy --guided, then upload the Glue job's libraries (STACK=$(STACK))"
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

$(TOOLS_STAMP): requirements-tools.txt requirements-checkov.txt
	rm -rf $(TOOLS)
	mkdir -p $(TOOLS)/bin
	echo '*' > $(TOOLS)/.gitignore
	$(PYTHON) -m venv $(TOOLS)/sam
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/sam/bin/python -m pip install --quiet -r requirements-tools.txt & sam=$$!; \
	$(TOOLS)/checkov/bin/python -m pip install --quiet -r requirements-checkov.txt & ck=$$!; \
	wait $$sam; r1=$$?; wait $$ck; r2=$$?; [ $$r1 = 0 ] && [ $$r2 = 0 ]
	ln -sf ../sam/bin/sam $(TOOLS)/bin/sam
	ln -sf ../checkov/bin/checkov $(TOOLS)/bin/checkov
	touch $@

tools: $(TOOLS_STAMP)

# Offline template checks: SAM's own validation + cfn-lint, a Docker-free build of the functions and
# the layer into .aws-sam/build, and checkov (every skip is in template.yaml with its reason).
validate: $(TOOLS_STAMP)
	$(OFFLINE_AWS) $(TOOLS)/bin/sam validate --lint
	mkdir -p .aws-sam
	$(OFFLINE_AWS) $(TOOLS)/bin/sam build --parameter-overrides PythonRuntime=$(LOCAL_RUNTIME) \
		--build-dir .aws-sam/build --cache-dir .aws-sam/cache >.aws-sam/build.log 2>&1 \
		|| { cat .aws-sam/build.log; exit 1; }
	@echo "sam build: ok (.aws-sam/build, runtime $(LOCAL_RUNTIME))"
	$(TOOLS)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

run: setup
	$(BIN)/covid-pipeline run --home $(HOME_DIR)

# Prints figures (never asserts timings); e.g. make bench BENCH_ARGS="--days 60 --regions 200".
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

# The Glue job's --extra-py-files (covid_transforms + the contract modules).
glue-package: $(STAMP)
	$(BIN)/python glue/package.py --out dist/covid_glue_libs.zip

# Needs AWS credentials. sam build uses the interpreter matching PythonRuntime (python3.12 by default);
# add --use-container to SAM_BUILD_ARGS where Docker is available instead.
deploy: setup $(TOOLS_STAMP)
	$(TOOLS)/bin/sam build $(SAM_BUILD_ARGS)
	$(TOOLS)/bin/sam deploy --guided --stack-name $(STACK)
	$(BIN)/python glue/package.py --out dist/covid_glue_libs.zip --upload-to-stack $(STACK)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup lint validate
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(HOME_DIR)
