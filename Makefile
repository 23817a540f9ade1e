# Activator — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
VENV := .venv
UV := .activator/uv/bin/uv
PY := $(VENV)/bin/python

# Local-only defaults; production sets real values (see README "Configuration").
export ACTIVATOR_DEV_API_KEY ?= act_dev_local_only_0123456789abcdef
export CREDENTIALS_ENCRYPTION_KEY ?= local-dev-only-credentials-key-0001
export ACTIVATOR_EGRESS_ALLOW_PRIVATE ?= true
export ACTIVATOR_LOG_FORMAT ?= json

.PHONY: help install lint format test test-chaos test-unit up down status demo clean asyncapi bench bench-quick

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv .activator/uv
	.activator/uv/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python python3
	touch $@

install: $(VENV)/.synced ## create .venv from uv.lock

lint: install ## ruff check, ruff format --check, mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services shared tests deploy/local bench

format: install ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install lint ## the whole suite against real Kafka and Postgres (started here if not given)
	deploy/local/with_infra.sh $(VENV)/bin/pytest

test-chaos: install ## fault injection, long mode (kills x10, outages, 30 s Postgres stop); prints the results table
	ACTIVATOR_CHAOS=long deploy/local/with_infra.sh $(VENV)/bin/pytest tests/e2e/chaos

test-unit: install ## unit tests only (no services)
	$(VENV)/bin/pytest tests/unit

bench: install ## benchmarks P1-P5 and latency against same-run baselines; writes bench/results.json
	deploy/local/with_infra.sh $(PY) -m bench

bench-quick: install ## the benchmarks, fewer and smaller repetitions (< 3 minutes)
	deploy/local/with_infra.sh $(PY) -m bench --quick

up: install ## start Kafka, Postgres and every service in the background
	@. deploy/local/env.sh && activator_local_up && deploy/local/services.sh up
	@echo "gateway: http://127.0.0.1:$${ACTIVATOR_GATEWAY_PORT:-8080}  dev API key: $$ACTIVATOR_DEV_API_KEY"

down: ## stop every service, Kafka and Postgres
	deploy/local/services.sh down
	. deploy/local/env.sh && ACTIVATOR_KAFKA_STARTED=$$ACTIVATOR_KAFKA_LOCAL ACTIVATOR_PG_STARTED=$$ACTIVATOR_PG_LOCAL activator_local_down

status: ## what is running
	@deploy/local/services.sh status

demo: up ## up, then a demo org, connection and topics, pushed with live progress
	@. deploy/local/env.sh && $(PY) deploy/local/demo.py

asyncapi: install ## regenerate docs/asyncapi.json from the services' brokers
	$(PY) -W ignore -m services asyncapi --output docs/asyncapi.json

clean: down ## stop everything and remove local state
	rm -rf .activator $(VENV)
