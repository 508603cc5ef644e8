#!/usr/bin/env bash
# The main job: on a fresh Debian machine, install what khactl needs, build it, start three bare
# controllers in network namespaces (a Redfish BMC each), make them a fenced Kubernetes control-plane
# cluster with one command (khactl bootstrap on every node: corosync, pacemaker, a floating IPaddr2 VIP,
# cloned haproxy in front of a stand-in API server, fencing), show the cluster and the API endpoint, fence
# a node for real, run failover drills measured from the lab's client with a leader-only watcher on every
# node, and tear everything down. Run as root.
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

step "khactl lab up --name demo --nodes 3 --bare: three controllers with the packages, and no cluster yet"
"$khactl" lab up --name demo --nodes 3 --bare

step "khactl lab bootstrap --name demo --profile kubernetes-control-plane: khactl bootstrap on every node at once"
"$khactl" lab bootstrap --name demo --profile kubernetes-control-plane

step "khactl status, inside node1 (from crm_mon's XML)"
sleep 3
"$khactl" lab exec --name demo node1 -- "$khactl" status

step "The API endpoint from the lab client: VIP 198.18.0.100:7443 -> haproxy -> a stand-in API server's /healthz"
for _ in $(seq 20); do
    answer=$("$khactl" lab exec --name demo client -- curl -sk --max-time 2 https://198.18.0.100:7443/healthz || true)
    [ "$answer" = ok ] && break
    sleep 0.5
done
echo "GET https://198.18.0.100:7443/healthz -> ${answer:-no answer}"

step "khactl plan against the live CIB: the spec and the cluster agree (exit 0)"
"$khactl" lab exec --name demo node2 -- "$khactl" plan -f "$KHACTL_LAB_ROOT/demo/bootstrap.yaml"

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
# A watcher whose node the drill crashed died with it (bash reports it as Killed); the others stop here.
for watcher in "${watchers[@]}"; do
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
done
echo "membership events, each emitted once by whichever watcher led at the time (a watcher whose node was crashed"
echo "died with it: the Killed lines above):"
for node in node1 node2 node3; do
    { grep -h '"kind":"membership"' "$events/$node" || true; } | while read -r line; do
        printf '%s [watcher on %s] %s\n' "$(grep -o '"time":"[^"]*"' <<<"$line")" "$node" "$line"
    done
done | sort | cut -d' ' -f2- | cut -c1-170
rm -rf "$events"

step "khactl lab drill --rounds 1 --mode isolate: the holder keeps its link but the switch drops its traffic"
"$khactl" lab drill --name demo --rounds 1 --mode isolate

step "khactl lab down"
"$khactl" lab down --name demo
