# isp-nlp: two commands on a fresh Linux machine with Python 3.11.
#   make demo       set up .venv and run the pipeline on the bundled demo corpus
#   make test       set up .venv and run the whole test suite
# For development (CONTRIBUTING.md):
#   make test-fast  the suite without the real MiniLM model and without the demo build
#   make lint       ruff check
#   make typecheck  mypy (configured in pyproject.toml)
#   make docs       build docs/ with MkDocs in strict mode into site/ (mkdocs.yml)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.isp-nlp-installed
# torch first and pinned, so sentence-transformers does not pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
PIP_ARGS ?=

.PHONY: setup demo test test-fast lint typecheck docs bench clean

setup: $(STAMP)

# isp_nlp/__init__.py holds the version: reinstall so the installed metadata follows it.
$(STAMP): pyproject.toml constraints.txt Makefile isp_nlp/__init__.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "isp-nlp needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install $(PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install $(PIP_ARGS) -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: setup
	$(BIN)/isp-nlp demo --out demo-out

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not real_model and not demo"

lint: setup
	$(BIN)/ruff check isp_nlp tests evaluation

typecheck: setup
	$(BIN)/mypy

# Strict: a broken link, a missing anchor or a page left out of the nav fails the build.
docs: setup
	$(BIN)/mkdocs build --strict --clean --site-dir site

bench: setup
	$(BIN)/python evaluation/bench_embed.py

clean:
	rm -rf $(VENV) demo-out site .pytest_cache
