# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install models test test-long lint demo migrate serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,worker]'
	touch $(STAMP)

# Everything but the fault-injection tests that take minutes (marker `long`), on every core the
# machine has (pytest-xdist; TEST_WORKERS=0 runs them in this one process). The tests that need
# the quick models all go to one worker, which trains those once (tests/conftest.py).
TEST_WORKERS ?= auto
test: install
	$(BIN)/pytest -m "not long" -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The long fault-injection tests: kill -9 mid-storm, a minute of Slack failures, a database
# outage, two replicas. CI runs them after `make test`.
test-long: install
	$(BIN)/pytest -m long $(PYTEST_ARGS)

# The layer contracts of docs/architecture.md (import-linter), the linter and the type checker
# (strict on the incident core and the configuration). CI runs it before the tests.
lint: install lint-deploy
	$(BIN)/lint-imports --no-logo
	$(BIN)/ruff check .
	$(BIN)/mypy

# deploy/, offline: the Dockerfiles (hadolint, every finding fails), deploy/install.sh (shellcheck)
# and the Kubernetes objects, strictly (unknown fields fail) against the newest Kubernetes the
# validator bundles. Its WARN means it has no schema for a kind (a misspelt kind or apiVersion), so
# that fails too; the ServiceMonitors (a CRD it cannot know) and kustomization.yaml are checked by
# tests/deploy/test_manifests.py instead.
K8S_VERSION ?= 1.37.0
K8S_OBJECTS = $(filter-out %/kustomization.yaml %-servicemonitor.yaml,$(wildcard deploy/kubernetes/*.yaml))
.PHONY: lint-deploy
lint-deploy: install
	$(BIN)/hadolint --config deploy/.hadolint.yaml deploy/bot.Dockerfile deploy/worker.Dockerfile
	$(BIN)/shellcheck deploy/install.sh
	@out="$$($(BIN)/kubernetes-validate --strict --kubernetes-version $(K8S_VERSION) $(K8S_OBJECTS))"; rc=$$?; \
		echo "$$out"; \
		if [ $$rc -ne 0 ] || echo "$$out" | grep -q '^WARN'; then echo "kubernetes-validate failed" >&2; exit 1; fi

# Trains the full models into ./var/models the first time (minutes, with progress bars); later
# runs recognise the same data and settings and return at once.
models: install
	$(BIN)/incident-bot models train

demo: install models
	$(BIN)/incident-bot demo

migrate: install
	$(BIN)/incident-bot migrate

serve: install
	$(BIN)/incident-bot serve

clean:
	rm -rf $(VENV) var .pytest_cache

.PHONY: bench bench-ingest bench-inference bench-diagnose bench-timers bench-postmortem bench-interactivity \
	bench-alert-to-channel bench-footprint
bench: bench-ingest bench-inference bench-diagnose bench-timers bench-postmortem bench-interactivity \
	bench-alert-to-channel bench-footprint

# A signed PagerDuty storm from 32 clients in generator processes of their own, against the bot
# and a bare FastAPI receiver that verifies the HMAC and parses the JSON: on SQLite, then on
# PostgreSQL when BENCH_DATABASE_URL names one (a fresh database is made there for the run).
bench-ingest: install
	BENCH_DATABASE_URL= $(BIN)/python -m tests.bench.ingest
	@if [ -n "$(BENCH_DATABASE_URL)" ]; then $(BIN)/python -m tests.bench.ingest --database-url "$(BENCH_DATABASE_URL)"; \
		else echo "bench-ingest: set BENCH_DATABASE_URL=postgresql://... to measure PostgreSQL too"; fi

# The model worker at 1, 8 and 32 clients against a bare forward pass of the same model version.
bench-inference: install models
	$(BIN)/python -m tests.bench.inference --json bench-results/inference.json

# Diagnose on an incident, end to end, with the models `make models` trains: seconds per step.
bench-diagnose: install models
	$(BIN)/python -m tests.bench.diagnose

# 1,000 escalation timers due within one minute, fired by the real 1 s scheduler on SQLite and
# (when it answers) PostgreSQL: delay percentiles against in-memory APScheduler date jobs.
bench-timers: install
	$(BIN)/python -m tests.bench.timers

# A postmortem draft for an incident with 2,000 timeline events (storm-shaped, and all notes),
# against one bare select of the same rows: milliseconds and the ratio (target < 1 s).
bench-postmortem: install
	$(BIN)/python -m tests.bench.postmortem

# Slash commands and headline clicks during an ingest storm and a Diagnose suite, against the same
# requests to the idle bot: ack p50/p99 (goal p99 < 300 ms). Quick models if `make models` has not run.
bench-interactivity: install
	$(BIN)/python -m tests.bench.interactivity

# A signed PagerDuty / CloudWatch alert to its headline in the new incident channel, p50/p95,
# during a 100/s PagerDuty storm on other services (--storm-rate 0: the idle bot), against the
# webhook's own ack and a bare chat.postMessage round trip.
bench-alert-to-channel: install
	$(BIN)/python -m tests.bench.alert_to_channel

# Peak RSS of the bot through a storm and of the worker serving every model, against a bare
# FastAPI process and a bare torch import (limit 2 GB a process).
bench-footprint: install
	$(BIN)/python -m tests.bench.footprint

# Regenerates the generated part of docs/configuration-reference.md from the code: the settings
# classes of the bot, the logs and the worker, and the YAML configuration's models. Run it after
# changing a setting or a key; tests/test_config_reference.py fails while the file is out of date.
.PHONY: docs-reference
docs-reference: install
	$(BIN)/python -m tools.config_reference --write
