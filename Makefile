# Two entry points a newcomer needs; each installs what it needs into .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

# The operator and, as their own distributions, the local stand-ins it is demonstrated and tested on.
DISTRIBUTIONS := pyproject.toml kubemock/pyproject.toml emulator/pyproject.toml
LINTED := operator kubemock emulator tests bench

$(BIN)/.installed: $(DISTRIBUTIONS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./kubemock -e ./emulator -e '.[dev]'
	touch $@

.PHONY: install demo test lint unit bench
install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/azbatch-operator demo $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest $(ARGS)

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit $(ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench $(ARGS)
