#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine (we run as root):
# the apt test peers (only those missing, so a warm machine skips apt entirely) and the
# Python package with its test extras, into $PYTHON (the Makefile passes .venv's; a
# stock Debian refuses pip installs into the system Python, PEP 668).
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package providing it
declare -A PEERS=(
  [ssh]=openssh-client
  [tmux]=tmux
  [rsyslogd]=rsyslog
  [psql]=postgresql
  # SNMP: net-snmp's clients and daemons (the agent's tests and bench), smilint (the MIB)
  [snmpget]=snmp
  [snmptrapd]=snmptrapd
  [snmpd]=snmpd
  [smilint]=smitools
  [npm]=npm
  # Modbus: mbpoll, a command-line Modbus master (the server's tests)
  [mbpoll]=mbpoll
  # LDAP: OpenLDAP's server (started by the directory-login tests' fixture, never as a
  # system service) and its clients
  [slapd]=slapd
  [ldapsearch]=ldap-utils
  # the web face's tests (TLS, redirects) and the namespaces of the mDNS and Redfish
  # protocol tests (ip link set lo up)
  [curl]=curl
  [ip]=iproute2
  # network management (tests/appliance/test_network.py): the controller's DHCP client
  # (busybox's udhcpc), a DHCP server and an IPv6 router (router advertisements) in the
  # peer namespace, ping from the peer
  [udhcpc]=udhcpc
  [dnsmasq]=dnsmasq-base
  [radvd]=radvd
  [ping]=iputils-ping
  # the host NTP client under --manage-host (tests/appliance/test_host_ntp.py runs its
  # own chronyd in the foreground with -x: it never sets the clock)
  [chronyd]=chrony
)
missing=()
for cmd in "${!PEERS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PEERS[$cmd]}")
done
# the PostgreSQL server (initdb), not only its client, for the export tests
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  echo "installing test peers: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-.venv/bin/python}
[[ "$PYTHON" != .venv/bin/python ]] || bash scripts/venv.sh
"$PYTHON" -m pip install -q -e '.[test]'
# the base MIBs (SNMPv2-SMI/-TC/-CONF) smilint and snmptable read: Debian ships none
bash scripts/build-mib.sh --base-only
