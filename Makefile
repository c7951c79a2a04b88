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
# `make validate` builds for the local interpreter and machine (its build is imported by the tests), into
# .aws-sam/validate/build; `make deploy` builds for the target in samconfig.toml into .aws-sam/deploy/build
# (deploy/run.py). Nothing writes .aws-sam/build, so no validation build can ever be deployed.
LOCAL_PY := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCAL_RUNTIME := python$(LOCAL_PY)
LOCAL_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
LOCAL_LAYER_ENV := LAYER_PYTHON=$(LOCAL_PY) LAYER_ARCH=$(LOCAL_ARCH) PIP="$(abspath $(BIN))/python -m pip"
# Nothing here talks to AWS: fake credentials and a region only satisfy the tools' client set-up.
OFFLINE_AWS := env -u AWS_PROFILE AWS_DEFAULT_REGION=us-east-2 AWS_ACCESS_KEY_ID=testing \
	AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

# make deploy: CONFIG_ENV picks the samconfig.toml environment (its stack_name, region, pinned runtime and
# architecture); STACK, ARCH=arm64, PARAMS="AlertEmail=me@example.com ..." and GUIDED=1 override it.
CONFIG_ENV ?= default
STACK ?=
ARCH ?=
PARAMS ?=
GUIDED ?=

# The Docker-free build for the local interpreter (validate, sam-invoke): functions + layer, never deployed.
LOCAL_BUILD = mkdir -p .aws-sam/validate && $(OFFLINE_AWS) $(LOCAL_LAYER_ENV) $(TOOLS)/bin/sam build \
	--parameter-overrides PythonRuntime=$(LOCAL_RUNTIME) Architecture=$(LOCAL_ARCH) \
	--build-dir .aws-sam/validate/build --cache-dir .aws-sam/validate/cache >.aws-sam/validate/build.log 2>&1 \
	|| { cat .aws-sam/validate/build.log; exit 1; }

# make invoke / make sam-invoke: FUNCTION is a template logical id, EVENT a file of events/.
FUNCTION ?= SetupFunction
EVENT ?= events/setup-full-run.json
ENV_VARS ?=

.PHONY: help setup java chromium run test test-fast lint format clean validate tools glue-package deploy bench invoke sam-invoke

help:
	@echo "make run    - set up and run the pipeline locally on the bundled lake sample (data/lake), then write the report"
	@echo "make test   - set up (chromium, SAM CLI, checkov too) and run lint + the whole test suite (validate's checks included)"
	@echo "make test-fast - the tests not marked slow (no pipeline run that reaches Clean): the inner loop"
	@echo "make lint   - ruff, ruff format --check, cfn-lint"
	@echo "make validate - sam validate --lint, cfn-lint serverless rules, sam build (local Python, no Docker), checkov"
	@echo "make bench  - generate full-scale synthetic raw data and measure the pipeline (BENCH_ARGS=...)"
	@echo "make deploy - build for the target runtime/arch (no Docker), sam deploy that build, upload the Glue code (CONFIG_ENV=$(CONFIG_ENV))"
	@echo "make invoke - run one function with an event in process, no Docker (FUNCTION=... EVENT=events/...)"
	@echo "make sam-invoke - the same with sam local invoke in Docker, against AWS (FUNCTION, EVENT, ENV_VARS=env.json)"
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

# The Spark class archive every local Spark JVM maps (adapters/local/class_archive.py): built once per JDK and pyspark.
setup: $(STAMP) java
	@$(BIN)/python -m covid_pipeline.adapters.local.class_archive

# The report's browser test (tests/e2e/test_report_browser.py) drives Debian's chromium through playwright;
# playwright never downloads a browser of its own. Under `make test` that test fails, not skips, without it.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "chromium not found: installing Debian's chromium with apt"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; \
	fi

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

# Offline template checks: SAM's own validation + cfn-lint, the serverless rules of cfn-lint-serverless,
# a Docker-free build of the functions and the layer for the local interpreter into .aws-sam/validate/build
# (never deployed: see LOCAL_RUNTIME), and checkov (every skip is in template.yaml with its reason).
# parliament (IAM policy linter) runs over the SAM-expanded policies in tests/infra/test_parliament.py.
validate: $(TOOLS_STAMP) $(STAMP)
	$(OFFLINE_AWS) $(TOOLS)/bin/sam validate --lint
	$(TOOLS)/sam/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(LOCAL_BUILD)
	@echo "sam build: ok (.aws-sam/validate/build, $(LOCAL_RUNTIME)/$(LOCAL_ARCH); never deployed)"
	$(TOOLS)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

run: setup
	$(BIN)/covid-pipeline run --home $(HOME_DIR)

invoke: setup
	$(BIN)/covid-pipeline invoke $(FUNCTION) --event $(EVENT) --home $(HOME_DIR)

# SAM CLI from .venv-tools (make tools) on the build for this machine; needs Docker, and AWS credentials with
# the deployed stack's names in ENV_VARS (sam local invoke --env-vars) for the functions to reach its resources.
sam-invoke: $(TOOLS_STAMP) $(STAMP)
	$(LOCAL_BUILD)
	$(TOOLS)/bin/sam local invoke $(FUNCTION) --event $(EVENT) --template .aws-sam/validate/build/template.yaml \
		$(if $(ENV_VARS),--env-vars $(ENV_VARS))

# Prints figures (never asserts timings); e.g. make bench BENCH_ARGS="--days 60 --regions 200".
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

# The Glue job's --extra-py-files (covid_transforms + the contract modules).
glue-package: $(STAMP)
	$(BIN)/python glue/package.py --out dist/covid_glue_libs.zip

# Needs AWS credentials. Builds the layer for samconfig.toml's PythonRuntime/Architecture (pip wheels for
# that platform: no Docker, no python3.12 needed), deploys exactly that build, then uploads the Glue
# job's script and libraries to the stack's outputs (deploy/run.py; DRY_RUN=1 prints the commands).
deploy: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python -m deploy.run --config-env $(CONFIG_ENV) $(if $(STACK),--stack $(STACK)) \
		$(if $(ARCH),--set Architecture=$(ARCH)) $(foreach p,$(PARAMS),--set $(p)) \
		$(if $(GUIDED),--guided) $(if $(DRY_RUN),--dry-run)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The suite on two worker processes (pytest-xdist; one per core), whole test files to a worker (--dist loadfile)
# so module-scoped runs are made once, handed out in the order tests/conftest.py sorts them (the long files
# first: --no-loadscope-reorder, else xdist orders files by their number of tests). `make validate`'s checks
# are tests here (tests/infra/test_sam_checkov.py).
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: setup chromium tools lint
	COVID_PIPELINE_REQUIRE_BROWSER=1 $(BIN)/pytest $(XDIST) --durations=15

test-fast: setup
	$(BIN)/pytest $(XDIST) -m "not slow"

clean:
	rm -rf $(HOME_DIR)
