# The two commands a new user needs: `make demo` and `make test`.
# Each creates .venv with python3 -m venv and installs the package when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt

# Every install goes through a lock in requirements/: exact versions and the sha256 of
# every file, wheels only, so an index can serve nothing that was not there when the
# lock was made (an sdist would run its build requirements unhashed). The project
# itself goes in without dependencies and with the locked setuptools, no build
# isolation: that would fetch the build backend unhashed. The stock pip of the
# venv is enough; upgrading it from the index would be the one unpinned install.
PIP_LOCKED = -m pip install --quiet --require-hashes --only-binary :all: -r

.PHONY: demo test lint typecheck check bench clean lock app-zip

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP_LOCKED) $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rollout demo

# Four workers on two cores: much of the suite waits (bakes, executions, lock leases), so
# a fourth worker keeps both cores busy; a file's tests stay on one worker (its fixtures).
test: $(STAMP)
	$(BIN)/ruff check infra rollout tests bench examples
	$(BIN)/mypy
	$(BIN)/pytest -n 4 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check infra rollout tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# The example app's Lambda zip (examples/app and its pure-Python dependencies, copied from
# the venv): `make app-zip APP_VERSION=1.5.0` writes dist/tenant-app-1.5.0.zip, the same
# bytes every time for the same version.
APP_VERSION ?= 1.5.0
app-zip: $(STAMP)
	$(BIN)/python -m rollout.local.app_bundle --version $(APP_VERSION) --out dist

# The aws CLI (the baseline of bench/config_copy.py) pins its own botocore: it gets a
# venv of its own so it never changes the toolkit's.
AWSCLI := .venv-awscli
$(AWSCLI)/bin/aws: requirements/awscli.txt
	$(PYTHON) -m venv $(AWSCLI)
	$(AWSCLI)/bin/python $(PIP_LOCKED) requirements/awscli.txt
	touch $@

bench: $(STAMP) $(AWSCLI)/bin/aws
	@for script in bench/*.py; do echo "== $$script"; \
	  PATH="$(CURDIR)/$(AWSCLI)/bin:$$PATH" $(BIN)/python -m bench.$$(basename $$script .py) || exit 1; done

# `make lock` after a change to the dependencies in pyproject.toml: it adds and removes
# pins and keeps the others; `make lock LOCK_FLAGS=--upgrade` moves every pin to the
# newest release within the bounds. Review the diff: each new pin is code that will run
# here. The locks are for CPython 3.11 on Linux and carry the hashes of every file of
# each pinned release. uv itself comes from a hashed lock, in a venv of its own.
LOCK_TOOL := .venv-lock
LOCK_FLAGS ?=
UV_COMPILE = $(LOCK_TOOL)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform linux --only-binary :all: --custom-compile-command 'make lock' $(LOCK_FLAGS)
$(LOCK_TOOL)/bin/uv: requirements/uv.txt
	$(PYTHON) -m venv $(LOCK_TOOL)
	$(LOCK_TOOL)/bin/python $(PIP_LOCKED) requirements/uv.txt
	touch $@

# The lock holds every extra of the project and its build requirements (for the
# install without build isolation), read from pyproject.toml.
lock: $(LOCK_TOOL)/bin/uv
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV_COMPILE) --all-extras -o $(LOCK) pyproject.toml -
	echo 'awscli>=1.33' | $(UV_COMPILE) -o requirements/awscli.txt -
	echo 'uv' | $(UV_COMPILE) -o requirements/uv.txt -

clean:
	rm -rf $(VENV) $(AWSCLI) $(LOCK_TOOL) dist .pytest_cache .mypy_cache .ruff_cache
