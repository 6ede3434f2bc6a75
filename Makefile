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

.PHONY: install demo test test-fast bench clean db-up db-down

$(BIN)/alphaplus: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
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

db-up: install
	$(BIN)/alphaplus db up

db-down: install
	$(BIN)/alphaplus db down

clean:
	-$(BIN)/alphaplus db down
	rm -rf $(VENV) .alphaplus *.egg-info
