PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv venv-test clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e .

venv-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

run: venv
	$(BIN)/keyless server

test: venv-test
	AWS_EC2_METADATA_DISABLED=true $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
