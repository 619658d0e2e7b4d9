# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch first, pinned: this machine has the 2.13.0 CPU wheel on disk; an unpinned torch pulls a multi-GB CUDA build.
# pip compiles every installed file at install: keep it, as machines here set PYTHONDONTWRITEBYTECODE, so a
# module pip left uncompiled is compiled again by every process importing it (pytest took 1.6x as long).
TORCH ?= torch==2.13.0

LABEXT := extensions/workbench-lab
JLPM := $(BIN)/jlpm
WHEEL_VENV ?= build/wheel-venv

.PHONY: install test lint demo lab clean browser labextension jest wheel-check

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	# The develop link below makes the venv's labextension folder workbench/labextension, so the last install
	# wrote install.json (mapped on its own in pyproject) into it, and the wheel would get that file twice.
	rm -f workbench/labextension/install.json
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter labextension develop --overwrite . >/dev/null 2>&1
	touch $(STAMP)

# The JupyterLab extension, rebuilt from extensions/workbench-lab (the install builds it once; the
# develop link above makes JupyterLab load workbench/labextension, so a rebuild shows on reload).
labextension: $(STAMP)
	cd $(LABEXT) && ../../$(JLPM) install --immutable && PATH="$(abspath $(BIN)):$$PATH" ../../$(JLPM) build:prod

# The frontend's unit tests (request layer, panel models).
jest: $(STAMP)
	cd $(LABEXT) && ../../$(JLPM) install --immutable >/dev/null && ../../$(JLPM) test --silent

# The wheel as a user gets it: built from a clean extension build, installed in a new venv, where Jupyter must
# list both extensions as enabled and OK (no node needed there). That venv borrows the dependencies of .venv
# (which `pip install -e` resolved from the same pyproject) through a .pth file, and `pip check` proves they
# satisfy the wheel's requirements: installing them a second time took 200 s of CI's 30 minutes. Python runs
# with -P so that this folder's source tree is not on sys.path: the wheel's own package is what loads.
wheel-check: $(STAMP)
	rm -rf build/dist $(WHEEL_VENV) workbench/labextension
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation . -w build/dist
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter labextension develop --overwrite . >/dev/null 2>&1
	$(BIN)/python -m venv --without-pip $(WHEEL_VENV)
	$(BIN)/python -m pip --python $(WHEEL_VENV)/bin/python install --quiet --no-deps build/dist/workbench-*.whl
	$(BIN)/python -P -c "import sysconfig; print(sysconfig.get_path('purelib'))" \
		> "$$($(WHEEL_VENV)/bin/python -P -c "import sysconfig; print(sysconfig.get_path('purelib'))")/test-venv-dependencies.pth"
	$(BIN)/python -m pip --python $(WHEEL_VENV)/bin/python check
	$(WHEEL_VENV)/bin/python -P -c "import workbench, sys; assert workbench.__file__.startswith(sys.prefix), workbench.__file__"
	$(WHEEL_VENV)/bin/python -P -c "import workbench.api as wb, sys; assert wb.example_notebook().is_relative_to(sys.prefix)"
	$(WHEEL_VENV)/bin/python -P -m jupyterlab.labextensions list 2>&1 | tee build/labextension-list.txt
	grep -E "workbench-lab v[0-9.]+ .*enabled.*OK" build/labextension-list.txt
	$(WHEEL_VENV)/bin/python -P -m jupyter_server.extension.serverextension list 2>&1 | tee build/server-extension-list.txt
	grep -E "workbench.lab .*enabled" build/server-extension-list.txt
	grep -E "workbench.lab .*OK" build/server-extension-list.txt

lint: $(STAMP)
	$(BIN)/ruff check workbench tests $(wildcard bench)
	$(BIN)/ruff format --check workbench tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The browser tests drive JupyterLab in Debian's chromium (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { test "$$(id -u)" = 0 && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || { echo "chromium is missing: run 'sudo apt-get install -y chromium' (Debian) and make test again"; exit 1; }

# The lint and the wheel check side by side (mypy and pip each keep about one core busy), then the
# frontend's tests. Test files run side by side (most of a test waits on processes, servers or a browser):
# one process per core, at most four; a file's tests stay together in one process, so a module's fixtures
# are built once, and files are handed out in the order tests/conftest.py gives (the longest first). The
# package is compiled first: with PYTHONDONTWRITEBYTECODE set (as it is here), every process the tests
# start (Dask workers, the CLI, kernels) would compile it again (0.7 s each).
test: browser $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target lint wheel-check
	$(MAKE) --no-print-directory jest
	$(BIN)/python -m compileall -q workbench
	$(BIN)/python -m pytest -q --numprocesses=auto --maxprocesses=4 --dist=loadfile --no-loadscope-reorder

demo: $(STAMP)
	$(BIN)/python -m workbench.demo

# JupyterLab refuses to start as root unless told to (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser $(ROOT_FLAG) notebooks

clean:
	rm -rf $(VENV) .workbench .pytest_cache .mypy_cache .ruff_cache build workbench/labextension $(LABEXT)/node_modules $(LABEXT)/lib
