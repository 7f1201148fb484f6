# The project's commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   := $(VENV)/.demo-$(HASH)
TEST   := $(VENV)/.test-$(HASH)

.PHONY: demo test check lint bench browser notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The demo needs the core (NumPy), matplotlib for its figures and tqdm for its progress bar: nothing else.
$(DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[plots,progress]'
	touch $@

$(TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(DEMO)
	$(BIN)/ffnn data fetch mnist
	$(BIN)/ffnn train --recipe nielsen-ch1 --out runs/demo-nielsen-ch1 --overwrite

test: $(TEST) lint browser
	$(BIN)/python -m pytest

# The fast tier for the edit loop: the tests not marked slow (no subprocesses, browser, servers,
# MPI, real MNIST or long training). No lint, no browser install; `make test` still runs everything.
check: $(TEST)
	$(BIN)/python -m pytest -m "not slow"

# The browser test drives Debian's Chromium (Playwright's own browser download needs the internet).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install Debian's chromium (not root?): the browser test will be skipped"

lint: $(TEST)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(TEST)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/epoch_time.py

# Executes every notebook in notebooks/ and stores its outputs (see notebooks/README.md).
notebooks: $(TEST)
	$(BIN)/python tests/test_notebooks.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
