# The two commands: `make demo` and `make test`. Everything else is a building block.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# checkov's pins conflict with dbt's, so it gets a venv of its own (requirements-checkov.lock)
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
CI_HOME := .lakehouse-ci
JVM_ARCHIVE := .jvm/lakehouse.jsa

.PHONY: install demo test lint pytest dbt-test bench bench-full soak clean reset help package deploy destroy jvm-archive

help:
	@echo "make demo   - install, generate demo landing data, replay 3 days of arrivals"
	@echo "make test   - install, lint, pytest (unit + end-to-end), dbt build/test on generated data"
	@echo "make lint   - ruff + sqlfluff"
	@echo "make bench  - the benchmarks at their default size (about 10 minutes here): one table of figures and ratios"
	@echo "make bench-full - the same at 365 days of history (long)"
	@echo "make soak   - the reliability suite, long: 20 minutes of random kill -9, more files"
	@echo "make jvm-archive - the JVM class-data-sharing archive (faster starts: LAKEHOUSE_JVM_ARCHIVE)"
	@echo "make reset  - delete local state (.lakehouse); landing files are kept"
	@echo "make package - build the AWS artifacts in dist/aws/ (Glue job scripts, ingestion.zip, dbt_project.zip, wheel)"
	@echo "make deploy - package, deploy the infra/ stack to the AWS account of your credentials, upload artifacts"
	@echo "make destroy - delete that stack (asks first; the data bucket is kept unless DELETE_DATA=1)"

install: $(STAMP) $(CHECKOV_STAMP)

# Every dependency is pinned in requirements.lock (pip freeze of a resolved install).
$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

.PHONY: browser
# Debian's chromium for the lineage site's browser test (playwright drives /usr/bin/chromium and downloads
# no browser). Installed when absent if apt-get is there and we are root; otherwise that test skips, saying why.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (apt-get) for the lineage site's browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "warning: chromium could not be installed: the browser test will skip"; \
	fi

$(CHECKOV_STAMP): requirements-checkov.lock
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.lock
	@touch $(CHECKOV_STAMP)

demo: install
	$(BIN)/lakehouse demo

# The local driver JVM's class-data-sharing archive (lakehouse/jvm_archive.py): every JVM start of the
# tests costs about 5 CPU-seconds less. Rebuilt after an install; without it commands start as before.
$(JVM_ARCHIVE): $(STAMP)
	LAKEHOUSE_JIT=quick $(BIN)/python -m lakehouse.jvm_archive $(JVM_ARCHIVE) \
		|| echo "warning: no JVM archive written: commands start without one (slower)"

jvm-archive: $(JVM_ARCHIVE)

lint: $(STAMP)
	$(BIN)/ruff check ingestion lakehouse tests infra
	$(BIN)/ruff format --check ingestion lakehouse tests infra
	$(BIN)/sqlfluff lint models tests/dbt macros

pytest: install browser $(JVM_ARCHIVE)
	$(BIN)/pytest

# A clean dbt build + test of every model of all five domains together on generated data, through
# the same CLI users run (the demo; data tests run inside the build); then the dbt unit tests, which
# runs leave out. Incremental branches are exercised per domain by the end-to-end tests.
dbt-test: export LAKEHOUSE_JIT ?= quick
dbt-test: export LAKEHOUSE_JVM_ARCHIVE ?= $(abspath $(JVM_ARCHIVE))
dbt-test: install browser $(JVM_ARCHIVE)
	rm -rf $(CI_HOME)
	LAKEHOUSE_HOME=$(CI_HOME) LAKEHOUSE_LANDING=$(CI_HOME)/landing $(BIN)/lakehouse demo --days 1
	# demo runs are runs: status shows the last one, and the conservation check holds for every domain
	LAKEHOUSE_HOME=$(CI_HOME) $(BIN)/lakehouse status > $(CI_HOME)/status.txt || (cat $(CI_HOME)/status.txt; exit 1)
	grep -q 'last run: .*`demo` exit 0' $(CI_HOME)/status.txt || (cat $(CI_HOME)/status.txt; exit 1)
	# the lineage site over this built home: column types, every column of every table documented,
	# source freshness, the lineage graph in Chromium (screenshot in test-artifacts/)
	# and every gold table read through DuckDB (the default query engine) equals the Spark read, on this home
	LAKEHOUSE_DOCS_HOME=$(CI_HOME) LAKEHOUSE_ENGINES_HOME=$(abspath $(CI_HOME)) $(BIN)/pytest -n 0 -p no:cacheprovider \
		tests/e2e/test_docs_site.py tests/e2e/test_query_engines.py -k "test_docs_site or every_gold_table"
	LAKEHOUSE_HOME=$(CI_HOME) $(BIN)/lakehouse dbt test --select "test_type:unit"
	rm -rf $(CI_HOME)

# Lint, checkov's venv and the JVM archive do not depend on each other: built side by side (output kept
# per target). Then the two test stages, also side by side (output as it comes): pytest's two workers
# leave a core idle part of the time (waiting on JVM starts and commits), which dbt-test's single
# process fills (measured: 1025 s side by side, the machine busy 93%, against 954 + 124 s one after the
# other the run before, which also lacked the shared dbt parse).
test: $(STAMP)
	$(MAKE) --no-print-directory -j3 --output-sync=target lint $(CHECKOV_STAMP) $(JVM_ARCHIVE)
	$(MAKE) --no-print-directory -j2 pytest dbt-test

# Figures and their ratios from one run (BENCHMARKS.md); JSON results in bench/. Never part of `make test`.
bench: install $(JVM_ARCHIVE)
	$(BIN)/python tests/bench/run.py

bench-full: install $(JVM_ARCHIVE)
	$(BIN)/python tests/bench/run.py --full

# The reliability suite with a long kill loop and more small files (LAKEHOUSE_TEST_SEED replays).
soak: install $(JVM_ARCHIVE)
	LAKEHOUSE_SOAK=1 $(BIN)/pytest tests/reliability -n 0 -p no:cacheprovider

# The AWS artifacts (layout in lakehouse/aws/package.py and the README's "Run on AWS"); prints what to upload.
package: install
	$(BIN)/python -m lakehouse.aws.package

# Real AWS, never run by CI: credentials and region the way boto3 finds them (AWS_PROFILE, AWS_REGION, ...).
# STACK names the stack; PARAMS passes template parameters, split like a shell line:
#   make deploy PARAMS='NotificationEmail=me@example.com "ScheduleExpression=cron(0 3 * * ? *)"'
STACK ?= lakehouse
PARAMS ?=
export PARAMS
deploy: install package
	$(BIN)/python infra/deploy.py deploy --stack $(STACK) --params "$$PARAMS"

# Asks for the stack name first. The data bucket is kept unless DELETE_DATA=1 (then every file and table goes).
destroy: install
	$(BIN)/python infra/deploy.py destroy --stack $(STACK) $(if $(DELETE_DATA),--delete-data)

reset:
	rm -rf .lakehouse

clean: reset
	rm -rf $(VENV) $(CHECKOV_VENV) .jvm data $(CI_HOME) .pytest_cache .ruff_cache dist build test-artifacts
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/lakehouse/dbt-parse"
