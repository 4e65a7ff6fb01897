# Chamados — every set-up step lives here, so a fresh clone needs nothing else.
#   make run    venv + install + migrate + demo data + web server (prints URL and logins)
#   make test   venv + install + the tests' Debian packages (Chromium, fusioninventory-agent, Xvfb,
#               nginx) + the whole suite

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
CHROMIUM ?= /usr/bin/chromium
TEST_WORKERS ?= 2
export FLASK_APP := wsgi.py

.PHONY: install browser test-deps smoke run migrate seed test test-fast test-postgres lint format worker clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

# Debian packages the tests drive for real: Chromium for the Playwright browser tests
# (Playwright's own browser download cannot be used here), fusioninventory-agent for
# the inventory tests and Xvfb, the virtual screen of the desktop agent's tests
# (tests/desktop/), and nginx, which runs deploy/nginx-three-pools.conf in its test.
# Needs root or sudo; without them those tests skip with a note.
test-deps:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	command -v fusioninventory-agent >/dev/null || missing="$$missing fusioninventory-agent"; \
	command -v Xvfb >/dev/null || missing="$$missing xvfb"; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing="$$missing nginx"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing$$missing (Debian packages) for the tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif command -v sudo >/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "Not installed:$$missing and no root: the tests that need them will be skipped."; \
	fi

browser: test-deps

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed-demo

# Web server plus the background jobs: without REDIS_URL the schedule runs inside the
# web process; with REDIS_URL an RQ worker and RQ's cron scheduler start alongside.
run: seed
	@echo ""
	@echo "Chamados: http://$(HOST):$(PORT)  (Ctrl+C para parar)"
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	if [ -n "$$REDIS_URL" ]; then $(BIN)/python -m workers all & fi; \
	RUN_SCHEDULER_IN_PROCESS=$$([ -n "$$REDIS_URL" ] && echo 0 || echo 1) \
		$(BIN)/flask run --host $(HOST) --port $(PORT) --with-threads

# Post-deploy check: make smoke URL=https://chamados.example.com (SMOKE_COMPANY_CODE and
# MACHINE_PROVISIONING_SECRET from the environment or .env).
smoke: install
	$(BIN)/flask smoke --url $(URL)

# Production jobs: an RQ worker (with RQ's scheduler, for retries) and RQ's cron scheduler.
worker: migrate
	$(BIN)/python -m workers all

# The whole suite, on both cores (pytest-xdist; tests of one xdist_group share a process).
test: install test-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The inner loop: everything but the browser tests and the tests that start processes.
test-fast: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not browser and not process" $(PYTEST_ARGS)

# The same suite against the real services (what .ci/run does second).
test-postgres: install test-deps
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
