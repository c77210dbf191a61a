# Two entry points a newcomer needs; each installs what it needs into .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install demo test lint unit bench
install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/azbatch-operator demo $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest $(ARGS)

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit $(ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench $(ARGS)
