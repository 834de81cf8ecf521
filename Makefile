# Two commands on a fresh machine (see README):
#   make run   installs the controller into .venv and runs it on a simulated ring
#   make test  installs everything the tests need (apt test peers too) and runs the suite
#
# Stock Debian 12/13 refuse pip installs into the system Python (PEP 668), so both work
# in a virtual environment, .venv, made by scripts/venv.sh. PYTHON=... uses another
# interpreter instead (an existing venv, or a Python you may install into).
#   make run  PORT=2022 BIND=127.0.0.1 DATA=./enerteg-data PDUS=8
#   make test PYTEST_ARGS="tests/core -x"
VENV_PYTHON := .venv/bin/python
PYTHON ?= $(VENV_PYTHON)
PORT ?= 2022
BIND ?=
DATA ?= ./enerteg-data
PDUS ?= 8
PYTEST_ARGS ?=

.PHONY: run install venv test test-deps bench mib

venv:
ifeq ($(PYTHON),$(VENV_PYTHON))
	bash scripts/venv.sh
endif

install: venv
	$(PYTHON) -m pip install -q -e .

# SSH on 2022 by default even as root, so a host sshd on 22 does not stand in the way
run: install
	$(PYTHON) -m enerteg_tui serve --simulate $(PDUS) --ssh-port $(PORT) --data-dir $(DATA) \
		$(if $(BIND),--bind $(BIND))

test-deps: venv
	PYTHON=$(PYTHON) bash scripts/install-test-deps.sh

test: test-deps
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# lint (smilint -l 6) and compile the SNMP agent's MIB after changing it
mib: venv
	PYTHON=$(PYTHON) bash scripts/build-mib.sh

bench: install
	$(PYTHON) bench/poll.py --pdus 100 --interval 1 --seconds 30 --equipment full
	$(PYTHON) bench/shell.py --pdus 100 --interval 1 --clients 20 --seconds 20
