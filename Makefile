# Two commands on a fresh machine (see README):
#   make run   installs the controller and runs it on a simulated ring of 8 PDUs
#   make test  installs everything the tests need (apt test peers too) and runs the suite
PYTHON ?= python3

.PHONY: run install test test-deps bench

install:
	$(PYTHON) -m pip install -q -e .

# SSH on 2022 even as root, so a host sshd on 22 does not stand in the way
run: install
	enerteg serve --simulate 8 --ssh-port 2022

test-deps:
	bash scripts/install-test-deps.sh

test: test-deps
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) bench/poll.py --pdus 100 --interval 1 --seconds 30 --equipment full
	$(PYTHON) bench/shell.py --pdus 100 --interval 1 --clients 20 --seconds 20
