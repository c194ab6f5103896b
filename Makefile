# Leyden — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench soak fuzz lint fmt clean venv screenshots

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start `leyden serve` with examples/kapacitor.conf; without a real webhook in
## KAPACITOR_DISCORD_0_URL the workspaces point at a local Discord emulator.
run: $(STAMP)
	$(BIN)/python -m leyden.devtools.devrun examples/kapacitor.conf

## The whole suite, on every core (pytest-xdist); `$(BIN)/python -m pytest -q` runs it serially.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

bench: $(STAMP)
	$(BIN)/python -m bench

## Ten minutes of mixed load on a real server (storms, an outage, a restart, redefinitions);
## fails when an alert is lost, a request gets a 5xx or memory grows unbounded.
soak: $(STAMP)
	$(BIN)/python -m bench.soak

## Fuzz every parser (1,000,000 inputs each) and the HTTP API of a live server within
## FUZZ_SECONDS (26 minutes); fails on a crash or a 5xx. CI runs `make fuzz FUZZ_SECONDS=60`.
FUZZ_SECONDS ?= 1560
fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz --seconds $(FUZZ_SECONDS)

## Photograph the status page of a served example in headless Chromium (Debian's chromium and
## chromium-driver): docs/status-page.png and docs/status-page-phone.png, shown in the README.
screenshots: $(STAMP)
	PYTHONPATH=$(CURDIR)/tests:$(CURDIR)/tests/e2e $(BIN)/python tests/e2e/status_screenshots.py docs

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy --follow-imports=silent bench/fuzz

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
