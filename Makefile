# The project's commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   := $(VENV)/.demo-$(HASH)
TEST   := $(VENV)/.test-$(HASH)
DOCS   := $(VENV)/.docs-$(HASH)

.PHONY: demo test check lint bench browser notebooks docs clean

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

$(DOCS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

demo: $(DEMO)
	$(BIN)/ffnn data fetch mnist
	$(BIN)/ffnn train --recipe nielsen-ch1 --out runs/demo-nielsen-ch1 --overwrite

test: $(TEST) lint browser docs
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
	$(BIN)/ruff format --check src tests bench docs/*.py
	$(BIN)/ruff check src tests bench docs/*.py
	$(BIN)/mypy

bench: $(TEST)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/epoch_time.py

# The documentation site (mkdocs.yml), in strict mode: a broken link or a missing name fails it.
# site/ opens from disk with no network, so the scripts that MkDocs' theme would load from a CDN
# come from the npm registry, pinned and checked, into docs/vendor/: KaTeX (the math) and
# iframe-worker (search from file://). tests/test_docs_site.py builds it again and opens it.
KATEX  := 0.19.1
SHIM   := 1.0.4
VENDOR := docs/vendor/.katex-$(KATEX)-iframe-worker-$(SHIM)
$(VENDOR):
	@command -v npm >/dev/null || (echo "make docs: npm is needed to fetch KaTeX (Debian's npm package)" >&2; exit 2)
	rm -rf docs/vendor && mkdir -p docs/vendor/katex/fonts docs/vendor/iframe-worker
	cd docs/vendor && npm pack --silent katex@$(KATEX) iframe-worker@$(SHIM) >/dev/null
	cd docs/vendor && printf '%s\n' \
	  '24da5a599eb2fcede2e270b99a6ff48bca816beecc95feeb84e8cccbd1bb34fd  katex-$(KATEX).tgz' \
	  'e8c5d12d87829c503afba01d67772ea9f4aba5b7ae57a0c98e1917711030efbb  iframe-worker-$(SHIM).tgz' \
	  | sha256sum --check --quiet
	cd docs/vendor && tar xzf katex-$(KATEX).tgz && cp package/dist/katex.min.js package/dist/katex.min.css \
	  package/dist/contrib/auto-render.min.js katex/ && cp package/dist/fonts/*.woff2 katex/fonts/ && rm -rf package
	cd docs/vendor && tar xzf iframe-worker-$(SHIM).tgz && cp package/shim/index.js iframe-worker/shim.js && rm -rf package
	rm docs/vendor/*.tgz && touch $@

docs: $(DOCS) $(VENDOR)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Executes every notebook in notebooks/ and stores its outputs (see notebooks/README.md).
notebooks: $(TEST)
	$(BIN)/python tests/test_notebooks.py

# The sdist and the wheel, built from the sdist by PyPA's `build` frontend in an isolated environment
# (it installs the build backend, setuptools, from the package index) after clearing build/ and the
# old ffnn files: $(DIST)/ffnn-VERSION.tar.gz and $(DIST)/ffnn-VERSION-py3-none-any.whl.
DIST ?= dist
.PHONY: dist
dist: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'build>=1.2'
	rm -rf build $(DIST)/ffnn-*
	$(BIN)/python -m build --outdir $(DIST) .

clean:
	rm -rf $(VENV) build dist site docs/vendor src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
