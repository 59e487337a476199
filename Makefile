# Newsdesk: `make run` installs, indexes seeds/ and opens the chat; `make test` installs and runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install run index chat test lint typecheck unit eval bench bench-quick clean

install: $(VENV)/.installed

# torch first, pinned to the local CPU wheel, so no dependency pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

index: install
	$(BIN)/newsdesk index

run: install
	$(BIN)/newsdesk index
	$(BIN)/newsdesk chat

lint: install
	$(BIN)/ruff check rag index ui eval tests
	$(BIN)/ruff format --check rag index ui eval tests

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -m "not slow and not integration and not browser"

test: lint typecheck
	$(BIN)/pytest

eval: install
	$(BIN)/newsdesk eval --dataset seeds --llm extractive

bench-quick: install
	$(BIN)/python -m eval.bench --quick

bench: install
	$(BIN)/python -m eval.bench

clean:
	rm -rf .newsdesk .pytest_cache .mypy_cache .ruff_cache test-artifacts
