# ferryman — every target sets up what it needs first; `make help` lists them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install ferryman with its dev tools

DEMO := examples/crm

demo: $(STAMP) ## generate the legacy CRM and migrate it into SQLite (no server needed)
	$(PY) -m demo.generate --out $(DEMO)/.demo/legacy
	rm -f $(DEMO)/.demo/target.db  # the demo target is scratch: each demo starts from an empty one
	cd $(DEMO) && $(abspath $(VENV))/bin/ferryman run

test: $(STAMP) ## run the whole test suite (services skip unless FERRYMAN_REQUIRE_SERVICES=1)
	$(PY) -m pytest -q -n 2

test-crash: $(STAMP) ## kill migrations at many random points and check resume
	$(PY) -m pytest -q -n 2 -m crash --crash-points=50

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# mypy names modules by their folders: give it the installed layout as a tree of links
	rm -rf .typecheck && mkdir -p .typecheck/ferryman
	for d in ferryman/* connectors mappings validations flows; do ln -s "$(CURDIR)/$$d" .typecheck/ferryman/; done
	cd .typecheck && $(abspath $(VENV))/bin/mypy --config-file ../pyproject.toml ferryman
	$(VENV)/bin/mypy demo bench

schemas: $(STAMP) ## regenerate the spec files' JSON Schema (and the examples' copies) and the functions page
	$(PY) -m ferryman.mappings.schema --write
	$(PY) -m ferryman.mappings.docs --write
	for p in examples/*/; do $(VENV)/bin/ferryman schema --project "$$p" || exit 1; done

bench: $(STAMP) ## run the benchmarks; figures are ratios against a baseline of the same run
	$(PY) -m bench
	$(PY) -m bench.journal
	$(PY) -m bench.mapping
	$(PY) -m bench.csv_read
	$(PY) -m bench.connectors
	$(PY) -m bench.validation
	$(PY) -m bench.pg_load
	$(PY) -m bench.dry_run

lock: ## refresh constraints.txt from a clean install (commit the result)
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lockenv

clean: ## remove the demo data and caches (keeps .venv)
	rm -rf $(DEMO)/.demo .typecheck .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install demo test test-crash lint schemas bench lock clean
