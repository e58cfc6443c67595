# The two commands a new user needs: `make demo` and `make test`.
# Each creates .venv with python3 -m venv and installs the package when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rollout demo

test: $(STAMP)
	$(BIN)/ruff check infra rollout tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check infra rollout tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The aws CLI (the baseline of bench/config_copy.py) pins its own botocore: it gets a
# venv of its own so it never changes the toolkit's.
AWSCLI := .venv-awscli
$(AWSCLI)/bin/aws:
	$(PYTHON) -m venv $(AWSCLI)
	$(AWSCLI)/bin/python -m pip install --quiet 'awscli>=1.33'

bench: $(STAMP) $(AWSCLI)/bin/aws
	@for script in bench/*.py; do echo "== $$script"; \
	  PATH="$(CURDIR)/$(AWSCLI)/bin:$$PATH" $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(AWSCLI) .pytest_cache .mypy_cache .ruff_cache
