# Two commands from a fresh clone:
#   make run    set up, then grade the bundled m02 demo submissions and print the table
#   make test   set up, then run the platform's own test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup system run test clean

setup: system $(VENV)/.installed

# Debian packages the sandbox needs (bubblewrap for namespaces); installed when running as root.
system:
	@./.ci/system-deps.sh

# torch is pinned first so that the CPU build on this machine is used, not a CUDA download.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(BIN)/handin validate assignments/m02-feedforward
	$(BIN)/handin grade assignments/m02-feedforward tests/fixtures/m02-feedforward --out results -j 2

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf results dist
