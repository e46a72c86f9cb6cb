# Helios. `make run` starts everything in one process; `make test` runs the whole suite against
# real PostgreSQL, Redis and Kafka that scripts/services.sh installs and starts.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := scripts/services.sh
# The local services' ports (scripts/services.sh starts them there; override to run beside others).
export HELIOS_PG_PORT ?= 5432
export HELIOS_REDIS_PORT ?= 6379
export HELIOS_KAFKA_PORT ?= 9092
export HELIOS_KAFKA_CONTROLLER_PORT ?= 9093
SERVICES_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true} DATABASE_URL=postgresql://helios:helios@127.0.0.1:$(HELIOS_PG_PORT)/helios \
	REDIS_URL=redis://127.0.0.1:$(HELIOS_REDIS_PORT)/0 KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(HELIOS_KAFKA_PORT) \
	HELIOS_CHANNEL_LAYER=redis

# Development targets run with DEBUG on (the settings' default is off, for production), which
# also lets them use the development secret key.
DEV_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true}

# All of Helios in one process: in-process broker, fakeredis, in-memory channel layer, SQLite.
run: venv
	$(DEV_ENV) $(PY) manage.py migrate --noinput -v 0
	$(DEV_ENV) HELIOS_CAMPAIGN_SIGNAL=fake $(PY) manage.py seed_campaigns
	$(DEV_ENV) HELIOS_PUBLIC_API=$${HELIOS_PUBLIC_API:-true} $(PY) manage.py runembedded

# An admin login for `make run` (asks for a user name and password).
admin: venv
	$(DEV_ENV) $(PY) manage.py createsuperuser

# Traffic for a running Helios: simulated `POST /bid` clients, or a simulated OpenRTB exchange
# (e.g. make exchange ARGS="--rate 200 --duration 60 --auction second").
simulate: venv
	$(DEV_ENV) $(PY) manage.py simulate $(ARGS)

exchange: venv
	$(DEV_ENV) $(PY) manage.py exchange $(ARGS)

# Every role its own process on the local services (Procfile, run by honcho); Ctrl-C stops them all.
run-kafka: services-up
	$(SERVICES_ENV) $(PY) manage.py migrate --noinput
	$(SERVICES_ENV) $(PY) manage.py kafka_topics
	$(SERVICES_ENV) $(PY) manage.py seed_profiles
	$(SERVICES_ENV) $(PY) manage.py seed_campaigns
	$(SERVICES_ENV) HELIOS_PUBLIC_API=true $(VENV)/bin/honcho start -f Procfile

.PHONY: help run admin simulate exchange lock system-deps browser-deps run-kafka venv services-up services-down services-status topics test test-fast test-slow test-pacing bench bench-anchor lint format protos check

venv: $(VENV)/.installed

# Installed from requirements.lock: every package, transitive ones included, pinned with hashes.
$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	touch $@

# Regenerate requirements.lock after editing requirements*.txt (pins already in the lock are kept;
# `make lock LOCK_ARGS=--upgrade` moves every transitive package to its newest allowed version), and
# requirements-runtime.lock (the image's: requirements.txt only, at the same versions).
lock: venv
	$(VENV)/bin/uv pip compile requirements-dev.txt --generate-hashes --universal --python-version 3.11 \
		--custom-compile-command "make lock" --quiet $(LOCK_ARGS) -o requirements.lock
	$(VENV)/bin/uv pip compile requirements.txt --generate-hashes --universal --python-version 3.11 \
		--custom-compile-command "make lock" --quiet -c requirements.lock -o requirements-runtime.lock

services-up: venv
	HELIOS_PYTHON=$(PY) bash $(SERVICES) up

services-down:
	bash $(SERVICES) down

services-status:
	bash $(SERVICES) status

topics: services-up
	$(SERVICES_ENV) $(PY) manage.py kafka_topics

# The whole suite: unit, LocalBroker, integration (real services), end-to-end and fault cases.
system-deps:
	bash scripts/system-deps.sh

browser-deps:
	bash scripts/browser-deps.sh

# Fault and load cases stop and restart the services this run uses: they run last. The ten-minute
# pacing test (`make test-pacing`) runs meanwhile, beside the fast suite, on a test database and a
# Redis db of its own; its log is printed after the fast suite's, and both must pass.
PACING_ENV := HELIOS_TEST_DATABASE=test_helios_pacing REDIS_URL=redis://127.0.0.1:$(HELIOS_REDIS_PORT)/1
PACING_LOG := test-artifacts/pacing.log
test: system-deps browser-deps services-up topics
	@mkdir -p $(dir $(PACING_LOG))
	$(SERVICES_ENV) $(PACING_ENV) $(PY) -m pytest -m pacing >$(PACING_LOG) 2>&1 & pacing=$$!; \
	$(SERVICES_ENV) $(PY) -m pytest -m "not slow"; fast=$$?; \
	wait $$pacing; paced=$$?; \
	echo "=== the pacing test, beside the fast suite ($(PACING_LOG)) ==="; cat $(PACING_LOG); \
	test $$fast -eq 0 -a $$paced -eq 0
	$(SERVICES_ENV) $(PY) -m pytest -m "slow and not pacing"

test-slow: system-deps services-up topics
	$(SERVICES_ENV) $(PY) -m pytest -m "slow and not pacing"

test-pacing: system-deps services-up topics
	$(SERVICES_ENV) $(PACING_ENV) $(PY) -m pytest -m pacing

# Benchmarks on the local services; results in bench/results/, table in docs/benchmarks.md.
# BENCH_QUICK=1 for a short smoke run, BENCH_PROFILE=0 without the py-spy flame graphs.
bench: services-up bench-anchor
	$(SERVICES_ENV) HELIOS_PYTHON=$(PY) bash bench/run.sh

# The Go anchor of the intake benchmark (bench/anchors/), built with the machine's Go (GO=...).
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
bench-anchor:
	cd bench/anchors && GOFLAGS=$${GOFLAGS:--mod=mod} $(GO) build -o bin/anchor .

# Only the layers that need no service (and no browser).
test-fast: venv
	$(PY) -m pytest -m "not kafka and not services and not e2e and not browser and not slow"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: venv
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py check

protos: venv
	HELIOS_PYTHON=$(PY) bash scripts/gen_protos.sh

help:
	@echo "make run           all of Helios in one process, no external services"
	@echo "make admin         create an admin login (user name, password) for make run"
	@echo "make simulate      POST /bid traffic for a running Helios (ARGS=\"--rate 200 --duration 30\")"
	@echo "make exchange      a simulated OpenRTB exchange against a running handler (ARGS=...)"
	@echo "make test          the whole suite on real PostgreSQL, Redis and Kafka (started for you)"
	@echo "make test-slow     only the fault and load cases; make test-pacing: only the 10-minute pacing test"
	@echo "make run-kafka     every role its own process on the local services"
	@echo "make lint          ruff + mypy + lint-imports"
	@echo "make lock          requirements.lock from requirements*.txt (after adding a package)"
	@echo "make bench         benchmarks on the local services -> docs/benchmarks.md"
	@echo "make bench-anchor  build the Go anchor of the intake benchmark (bench/anchors/)"
	@echo "make services-up | services-down | services-status"
