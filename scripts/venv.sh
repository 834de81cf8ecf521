#!/usr/bin/env bash
# Create the project's virtual environment in .venv (if it is not there yet).
#
# Stock Debian 12/13 mark the system Python "externally managed" (PEP 668): pip refuses
# to install into it, so `make run` and `make test` install into .venv instead. Debian
# ships venv's pip bootstrap (ensurepip) in a separate package; when it is missing it is
# installed through apt (we run as root, as for the test peers).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_PYTHON=${BASE_PYTHON:-python3}   # the interpreter the environment is made from

if [[ -x .venv/bin/python ]] && .venv/bin/python -m pip --version >/dev/null 2>&1; then
  exit 0
fi
"$BASE_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "venv.sh: $BASE_PYTHON is $("$BASE_PYTHON" -V 2>&1); EnerTEG needs Python 3.11 or newer" >&2
  exit 2
}
# Debian ships ensurepip (venv's pip bootstrap) in python3.X-venv, not in the stdlib package
if ! "$BASE_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  ver=$("$BASE_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  echo "venv.sh: installing python3-venv (python$ver-venv) through apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-venv "python$ver-venv" >/dev/null
fi
rm -rf .venv
"$BASE_PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
echo "venv.sh: created .venv ($(.venv/bin/python -V))"
