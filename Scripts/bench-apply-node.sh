#!/usr/bin/env bash
# The apply benchmark's inner part, run inside a one-node lab by Scripts/bench.sh:
#   khactl lab exec node1 -- bash Scripts/bench-apply-node.sh KHACTL SPEC REPETITIONS
# Prints one "name milliseconds" line per measurement. Each write starts from the same configuration (the
# lab's own, restored with cibadmin --replace, and the cluster settled), so the three ways do the same work:
#   khactl       khactl apply --via cib (verify, one versioned patch)
#   pcs-seq      the same objects as sequential pcs commands against the live CIB
#   pcs-file     the same commands on a file (pcs -f) and one pcs cluster cib-push diff-against
#   noop         khactl apply when nothing changed
#   khactl-start khactl --version;  pcs-start  pcs --version
set -euo pipefail
khactl=$1
spec=$2
reps=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cibadmin --query --scope configuration >"$work/baseline.xml"
"$khactl" export -f "$spec" --format pcs >"$work/commands.sh"
sed 's|^pcs |pcs -f "$CIB_COPY" |' "$work/commands.sh" >"$work/commands-file.sh"

ms() { date +%s%N; }
since() { echo $(( ($(ms) - $1) / 1000000 )); }
reset() {
    cibadmin --replace --scope configuration --xml-file "$work/baseline.xml"
    crm_resource --wait --timeout=60s >/dev/null 2>&1 || true
}

for _ in $(seq "$reps"); do
    reset
    t=$(ms); "$khactl" apply -f "$spec" >/dev/null; echo "khactl $(since "$t")"
    crm_resource --wait --timeout=60s >/dev/null 2>&1 || true
    t=$(ms); "$khactl" apply -f "$spec" >/dev/null; echo "noop $(since "$t")"

    reset
    t=$(ms); bash "$work/commands.sh" >/dev/null 2>&1; echo "pcs-seq $(since "$t")"

    reset
    t=$(ms)
    pcs cluster cib "$work/original.xml"
    cp "$work/original.xml" "$work/copy.xml"
    CIB_COPY="$work/copy.xml" bash "$work/commands-file.sh" >/dev/null 2>&1
    pcs cluster cib-push "$work/copy.xml" diff-against="$work/original.xml" >/dev/null 2>&1
    echo "pcs-file $(since "$t")"
done
reset
for _ in $(seq 10); do
    t=$(ms); "$khactl" --version >/dev/null; echo "khactl-start $(since "$t")"
    t=$(ms); pcs --version >/dev/null; echo "pcs-start $(since "$t")"
done
