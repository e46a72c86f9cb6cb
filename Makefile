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
SERVICES_ENV := DATABASE_URL=postgresql://helios:helios@127.0.0.1:$(HELIOS_PG_PORT)/helios \
	REDIS_URL=redis://127.0.0.1:$(HELIOS_REDIS_PORT)/0 KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(HELIOS_KAFKA_PORT) \
	HELIOS_CHANNEL_LAYER=redis

# All of Helios in one process: in-process broker, fakeredis, in-memory channel layer, SQLite.
run: venv
	$(PY) manage.py migrate --noinput -v 0
	HELIOS_CAMPAIGN_SIGNAL=fake $(PY) manage.py seed_campaigns
	HELIOS_PUBLIC_API=$${HELIOS_PUBLIC_API:-true} $(PY) manage.py runembedded

# Every role its own process on the local services (Procfile, run by honcho); Ctrl-C stops them all.
run-kafka: services-up
	$(SERVICES_ENV) $(PY) manage.py migrate --noinput
	$(SERVICES_ENV) $(PY) manage.py kafka_topics
	$(SERVICES_ENV) $(PY) manage.py seed_profiles
	$(SERVICES_ENV) $(PY) manage.py seed_campaigns
	$(SERVICES_ENV) HELIOS_PUBLIC_API=true $(VENV)/bin/honcho start -f Procfile

.PHONY: help run system-deps browser-deps run-kafka venv services-up services-down services-status topics test test-fast test-slow bench lint format protos check

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

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

# Fault and load cases stop and restart the services this run uses: they run last.
test: system-deps browser-deps services-up topics
	$(SERVICES_ENV) $(PY) -m pytest -m "not slow"
	$(SERVICES_ENV) $(PY) -m pytest -m slow

test-slow: system-deps services-up topics
	$(SERVICES_ENV) $(PY) -m pytest -m slow

# Benchmarks on the local services; results in bench/results/, table in docs/benchmarks.md.
# BENCH_QUICK=1 for a short smoke run, BENCH_PROFILE=0 without the py-spy flame graphs.
bench: services-up
	$(SERVICES_ENV) HELIOS_PYTHON=$(PY) bash bench/run.sh

# Only the layers that need no service.
test-fast: venv
	$(PY) -m pytest -m "not kafka and not services and not e2e and not slow"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: venv
	$(PY) manage.py check

protos: venv
	HELIOS_PYTHON=$(PY) bash scripts/gen_protos.sh

help:
	@echo "make run           all of Helios in one process, no external services"
	@echo "make test          the whole suite on real PostgreSQL, Redis and Kafka (started for you)"
	@echo "make run-kafka     every role its own process on the local services"
	@echo "make lint          ruff + mypy"
	@echo "make bench         benchmarks on the local services -> docs/benchmarks.md"
	@echo "make services-up | services-down | services-status"
