# Two commands for a new machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Prefect: no telemetry, no network; a private home so runs never touch ~/.prefect.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_HOME ?= $(CURDIR)/.alphaplus/prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90
export PREFECT_LOGGING_LEVEL ?= WARNING
# The temporary server a CLI, demo, test or benchmark process starts logs tracebacks of its own
# background services being cancelled at exit: nothing a user can act on.
export PREFECT_LOGGING_LOGGERS_PREFECT_SERVER_LEVEL ?= CRITICAL

.PHONY: install demo test test-fast bench clean db-up db-down ui

$(BIN)/alphaplus: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# -qq: errors only (setuptools' editable-install notice about folders named like the packages,
	@# which here are the packages themselves, is not for the user).
	$(BIN)/python -m pip install -qq -c constraints.txt -e '.[dev,dask,s3]'
	@touch $@

install: $(BIN)/alphaplus

## Run the whole lifecycle on the embedded database (or ALPHAPLUS_DATABASE_URL).
demo: install
	$(BIN)/alphaplus demo

## Run every test (unit, database, flows, reliability) against a real PostgreSQL.
test: install
	$(BIN)/python -m pytest -q -ra

## Unit tests only (no database).
test-fast: install
	$(BIN)/python -m pytest -q tests/unit

bench: install
	$(BIN)/python -m benchmarks

## The read-only registry dashboard on http://127.0.0.1:8765 (UI_PORT=... for another port).
UI_PORT ?= 8765
ui: install
	$(BIN)/alphaplus ui --port $(UI_PORT)

db-up: install
	$(BIN)/alphaplus db up

db-down: install
	$(BIN)/alphaplus db down

clean:
	-$(BIN)/alphaplus db down
	rm -rf $(VENV) .alphaplus *.egg-info

# --- Prefect server, worker and deployments --------------------------------------------------------
# The server listens on loopback; PREFECT_API_URL points clients, workers and `serve` at it. Set only
# for these targets: `make demo` and `make test` use Prefect's temporary in-process API.
PREFECT_PORT ?= 4200
PREFECT_POOL := alphaplus  # the work pool named in prefect.yaml
SERVER_TARGETS := server worker deploy serve run
$(SERVER_TARGETS): export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
$(SERVER_TARGETS): export PREFECT_LOGGING_LEVEL := INFO
$(SERVER_TARGETS): export PREFECT_LOGGING_LOGGERS_PREFECT_SERVER_LEVEL := WARNING
# Workers resolve the pull step's working directory from this (see prefect.yaml).
worker serve: export ALPHAPLUS_PROJECT_DIR ?= $(CURDIR)

.PHONY: server worker deploy serve run

## Prefect server (API + UI) on 127.0.0.1, its tables in the database `prefect` next to AlphaPlus's.
server: install
	$(BIN)/python -m deployments.server_db -- $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

## A process worker of the pool: runs the deployments' flow runs on this host.
worker: install
	$(BIN)/prefect worker start --pool $(PREFECT_POOL) --type process

## Create the work pool if missing, then register every deployment of prefect.yaml (with its trigger).
deploy: install
	$(BIN)/prefect work-pool inspect $(PREFECT_POOL) >/dev/null 2>&1 || \
		$(BIN)/prefect work-pool create $(PREFECT_POOL) --type process
	$(BIN)/prefect --no-prompt deploy --all

## Start a run of a deployment on that server (parameters as one JSON object), e.g.
##   make run DEPLOYMENT=retrain/retrain-manual PARAMS='{"symbols": ["BTCUSDT"], "regime": "trending"}'
DEPLOYMENT ?= retrain/retrain-manual
PARAMS ?= {}
run: install
	$(BIN)/prefect deployment run $(DEPLOYMENT) --params '$(PARAMS)'


## The same deployments served from one process, without a work pool or worker.
serve: install
	$(BIN)/python -m deployments.serve
