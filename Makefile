# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch first, pinned: this machine has the 2.13.0 CPU wheel on disk; an unpinned torch pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install test lint demo lab clean browser

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check workbench tests $(wildcard bench)
	$(BIN)/ruff format --check workbench tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The browser tests drive JupyterLab in Debian's chromium (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { test "$$(id -u)" = 0 && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || { echo "chromium is missing: run 'sudo apt-get install -y chromium' (Debian) and make test again"; exit 1; }

test: lint browser
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python -m workbench.demo

# JupyterLab refuses to start as root unless told to (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser $(ROOT_FLAG) notebooks

clean:
	rm -rf $(VENV) .workbench .pytest_cache .mypy_cache .ruff_cache
