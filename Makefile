# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

# One data directory and one Dagster instance for the demo, the UI, the CLI and schedules.
export GLIMMR_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(GLIMMR_DATA_DIR)/dagster_home

# Tests use two workers on a 2-core machine.
PYTEST_ARGS ?= -n 2

.PHONY: help install demo test dev bench services validate clean-data

help:
	@echo "make demo      run the pipeline against the bundled PRA sandbox (offline) and summarize"
	@echo "make test      run the test suite (installs what it needs, starts its own services)"
	@echo "make dev       open the Dagster UI on the demo's instance and data"
	@echo "make bench     run the benchmarks and print ratios against their baselines"
	@echo "make validate  check that the Dagster definitions load"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever the dependency pins change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

services:
	bash scripts/ensure-services.sh

demo: install
	$(BIN)/glimmr demo

test: install services
	$(BIN)/pytest $(PYTEST_ARGS)

dev: install
	$(BIN)/glimmr dev

bench: install
	$(BIN)/python -m benchmarks.run

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

clean-data:
	rm -rf "$(GLIMMR_DATA_DIR)"
