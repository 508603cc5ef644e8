#!/usr/bin/env bash
# The main job: on a fresh Debian machine, install what khactl needs, build it, start a real 3-node
# Corosync/Pacemaker lab in network namespaces (fencing through a Redfish BMC per node), put the example
# control-plane resources on it (a floating IPaddr2 VIP and a cloned haproxy), show the cluster, fence a
# node for real, run a failover drill measured from the lab's client, show corosync's events as a
# node leaves, and tear everything down. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing the Debian packages khactl needs (corosync, pacemaker, pcs, fence-agents, haproxy, ...)"
bash Scripts/install-deps.sh
step "Building khactl (release)"
swift build -c release --product khactl 2>&1 | tail -1
khactl=$(swift build -c release --show-bin-path)/khactl

export KHACTL_LAB_ROOT
KHACTL_LAB_ROOT=$(mktemp -d /tmp/khactl-demo.XXXXXX)
cleanup() {
    "$khactl" lab down --name demo >/dev/null 2>&1 || true
    rm -rf "$KHACTL_LAB_ROOT"
}
trap cleanup EXIT

step "khactl lab up --name demo --nodes 3 --example"
"$khactl" lab up --name demo --nodes 3 --example

step "khactl lab status"
"$khactl" lab status --name demo

step "corosync as khactl's bindings see it, inside node1: khactl members"
"$khactl" lab exec --name demo node1 -- "$khactl" members

step "Fencing for real: node1's fencer runs fence_redfish against node3's BMC, which powers node3 off"
"$khactl" lab exec --name demo node1 -- stonith_admin --fence node3 --timeout 60
"$khactl" lab status --name demo | grep node3
"$khactl" lab revive --name demo node3

step "A watcher on every node (khactl watch --leader-only): each event once per cluster, even when its node dies"
events=$(mktemp -d)
watchers=()
for node in node1 node2 node3; do
    "$khactl" lab exec --name demo "$node" -- "$khactl" watch --leader-only --output json >"$events/$node" &
    watchers+=($!)
    sleep 0.5
done

step "khactl lab drill --rounds 3 --mode crash: kill the VIP's holder, measure from the lab client, revive"
"$khactl" lab drill --name demo --rounds 3 --mode crash
for watcher in "${watchers[@]}"; do
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
done
echo "membership events, each emitted once by whichever watcher led at the time:"
for node in node1 node2 node3; do
    grep -h '"kind":"membership"' "$events/$node" | while read -r line; do
        printf '%s [watcher on %s] %s\n' "$(grep -o '"time":"[^"]*"' <<<"$line")" "$node" "$line"
    done
done | sort | cut -d' ' -f2- | cut -c1-170
rm -rf "$events"

step "khactl lab drill --rounds 1 --mode isolate: the holder keeps its link but the switch drops its traffic"
"$khactl" lab drill --name demo --rounds 1 --mode isolate

step "khactl lab down"
"$khactl" lab down --name demo
