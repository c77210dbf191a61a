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

.PHONY: install demo test lint unit bench azcli azcli-test
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

# The real Azure CLI (azure-cli from PyPI, unmodified) in a virtualenv of its own, and the client
# tests that drive it against the emulator (tests/clients, marker azcli; not in the default run).
AZCLI_VENV ?= .venv-azcli
$(AZCLI_VENV)/.installed:
	$(PYTHON) -m venv $(AZCLI_VENV)
	$(AZCLI_VENV)/bin/pip install --quiet --upgrade pip
	$(AZCLI_VENV)/bin/pip install --quiet azure-cli
	touch $@

azcli: $(AZCLI_VENV)/.installed

azcli-test: $(BIN)/.installed $(AZCLI_VENV)/.installed
	AZ_CLI=$(abspath $(AZCLI_VENV))/bin/az $(BIN)/pytest -m azcli tests/clients $(ARGS)
