# Set-up and everyday tasks. `make demo` and `make test` work on a fresh machine: they create
# .venv with the project and its development tools first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck proto proto-check layers i18n i18n-check ansible-lint check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "yiwang needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/pytest -q -n 2 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

proto: $(STAMP)
	$(BIN)/python scripts/genproto.py

proto-check: $(STAMP)
	$(BIN)/python scripts/genproto.py --check

layers: $(STAMP)
	$(BIN)/lint-imports

i18n: $(STAMP)
	$(BIN)/python scripts/i18n.py update

i18n-check: $(STAMP)
	$(BIN)/python scripts/i18n.py check

ansible-lint: $(STAMP)
	$(BIN)/python scripts/ansible_argspec.py --check
	cd deploy/ansible && PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/ansible-lint

check: lint typecheck proto-check layers i18n-check ansible-lint

bench: $(STAMP)
	$(BIN)/python bench/local_cases.py
	$(BIN)/python bench/link_handshake.py
	$(BIN)/python bench/replication.py
	$(BIN)/python bench/bootstrap.py
	$(BIN)/python bench/local_api.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/gm_libraries.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
