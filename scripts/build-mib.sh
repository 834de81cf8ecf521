#!/usr/bin/env bash
# Check and compile the SNMP agent's MIB (enerteg_tui/protocols/snmp/mibs/ENERTEG-PDU-MIB.txt,
# the source of truth) into ENERTEG-PDU-MIB.json beside it, which the agent reads at start
# (object names -> OIDs, access); run after every change to the MIB (`make mib`), never at
# start. Steps: fetch the base MIBs (SNMPv2-SMI/-TC/-CONF: Debian ships none, they moved to
# non-free snmp-mibs-downloader; we take them from the npm package net-snmp, MIT licensed)
# into build/base-mibs (`--base-only` stops there), lint with `smilint -l 6` (must print nothing), compile with pysmi.
set -euo pipefail
cd "$(dirname "$0")/.."
MIBDIR=enerteg_tui/protocols/snmp/mibs
BASE=${BASE_MIBS:-build/base-mibs}
NET_SNMP_NPM=net-snmp@3.29.2

fetch_base() {
  [[ -f "$BASE/SNMPv2-SMI.mib" ]] && return 0
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$NET_SNMP_NPM" >/dev/null && tar xzf net-snmp-*.tgz package/lib/mibs)
  mkdir -p "$BASE"
  cp "$tmp"/package/lib/mibs/*.mib "$BASE"/
  rm -rf "$tmp"
}

fetch_base
[[ "${1:-}" == "--base-only" ]] && exit 0
out=$(SMIPATH="$BASE:$MIBDIR" smilint -c /dev/null -s -m -l 6 "$MIBDIR/ENERTEG-PDU-MIB.txt" 2>&1)
if [[ -n "$out" ]]; then
  echo "smilint -l 6 found problems in ENERTEG-PDU-MIB:" >&2
  echo "$out" >&2
  exit 1
fi
tmp=$(mktemp -d)
cp "$MIBDIR/ENERTEG-PDU-MIB.txt" "$tmp/ENERTEG-PDU-MIB"
# pysmi's mibdump, through the interpreter that has pysmi (a venv's, or the system's)
${PYTHON:-python3} -c 'import sys; from pysmi.scripts.mibdump import start; sys.exit(start())' \
  --mib-source="file://$tmp" --mib-source="file://$PWD/$BASE" \
  --destination-format=json --destination-directory="$tmp/out" ENERTEG-PDU-MIB >"$tmp/log" 2>&1 \
  || { cat "$tmp/log" >&2; exit 1; }
# drop pysmi's comments (host, time): the compiled file depends on the MIB alone
${PYTHON:-python3} - "$tmp/out/ENERTEG-PDU-MIB.json" "${MIB_JSON_OUT:-$MIBDIR/ENERTEG-PDU-MIB.json}" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc.get("meta", {}).pop("comments", None)
with open(sys.argv[2], "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
PY
rm -rf "$tmp"
echo "compiled ${MIB_JSON_OUT:-$MIBDIR/ENERTEG-PDU-MIB.json}"
