# fanpin — every target creates .venv and installs what it needs when missing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEMO_OUT ?= demo

.DEFAULT_GOAL := help
.PHONY: help install demo test lint bench bench-models bench-province clean

help:  ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install fanpin with its dev tools

demo: $(STAMP)  ## Simulate a county, train, score the latest month, print where the list is
	$(BIN)/risk demo --out $(DEMO_OUT)

lint: $(STAMP)  ## ruff (lint + format check) and mypy on the packages
	$(BIN)/ruff check risk features training simulation tests bench docs
	$(BIN)/ruff format --check risk features training simulation tests bench docs
	$(BIN)/mypy risk features training simulation

test: $(STAMP)  ## Lint, then run every test (notebooks and browser tests included)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## Speed, memory and model quality (200,000 households; every scenario); writes bench/results.json
	$(BIN)/python bench/run.py

bench-province: $(STAMP)  ## A 1,000,000-household province in 50 counties: --engine dask (2 workers) vs local; writes bench/province.json
	$(BIN)/python bench/bench_province.py

bench-models: $(STAMP)  ## Model quality only: every scenario, trained and scored as a county would
	$(BIN)/python bench/bench_generalisation.py --out bench/generalisation.json

clean:  ## Remove generated outputs (keeps .venv)
	rm -rf $(DEMO_OUT) mlruns mlflow.db mlartifacts .pytest_cache bench/cache
