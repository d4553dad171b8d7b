# Two commands from a fresh clone:
#   make run    set up, then serve the web platform on its embedded defaults (SQLite, embedded
#               broker and grading workers, instance folder ./instance) at http://127.0.0.1:8000/
#   make test   set up, then run the platform's own test suite
# and one more:
#   make demo   set up, validate the m02 module and grade its demo submissions from the command line
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup system image run demo test clean

HOST ?= 127.0.0.1
PORT ?= 8000

setup: system $(VENV)/.installed

# Debian packages the sandboxes need (bubblewrap; docker.io and debootstrap, with a running
# engine) and the web platform's tests (postgresql, redis-server, chromium: tests/services.py
# starts throwaway instances); installed and started when running as root.
system:
	@./.ci/system-deps.sh
	@if [ "$$(id -u)" -eq 0 ]; then ./.ci/docker-engine.sh; fi

# torch is pinned first so that the CPU build on this machine is used, not a CUDA download.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,interop]'
	touch $@

# The sandbox image: minutes the first time, seconds when nothing changed.
image: setup
	@if $(BIN)/python -c "import sys, sandbox.docker as d; sys.exit(d.engine() is None)"; then \
		$(BIN)/handin sandbox build; \
	else echo "no Docker engine: the local sandbox will be used"; fi

run: setup image
	$(BIN)/handin serve --host $(HOST) --port $(PORT)

demo: setup image
	$(BIN)/handin validate assignments/m02-feedforward
	$(BIN)/handin grade assignments/m02-feedforward tests/fixtures/m02-feedforward --out results -j 2

test: setup image
	$(BIN)/python -m pytest

clean:
	rm -rf results dist  # the instance folder (./instance) holds accounts and grades: remove it by hand
