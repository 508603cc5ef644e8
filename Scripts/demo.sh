#!/usr/bin/env bash
# The main job. Today: install, build, start a throwaway single-node corosync in namespaces of its own and
# show `khactl members` and `khactl watch` against it. The lab issue turns this into a 3-node lab with the
# Kubernetes profile and a failover drill.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Installing the Debian packages khactl needs"
bash Scripts/install-deps.sh
step "Building khactl"
swift build -c release --product khactl
khactl=$(swift build -c release --show-bin-path)/khactl

scratch=$(mktemp -d /tmp/khactl-demo.XXXXXX)
holder=""
corosync=""
cleanup() {
    [ -n "$corosync" ] && kill "$corosync" 2>/dev/null && wait "$corosync" 2>/dev/null || true
    [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

step "Starting a single-node corosync in a network + mount namespace of its own"
mkdir -p "$scratch"/{etc,lib,log,run}
cat > "$scratch/etc/corosync.conf" <<CONF
totem {
    version: 2
    cluster_name: demo
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
    token: 1000
}
nodelist {
    node {
        name: demo1
        nodeid: 1
        ring0_addr: 127.0.0.1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
}
CONF
head -c 256 /dev/urandom > "$scratch/etc/authkey"
chmod 0400 "$scratch/etc/authkey"
unshare --net --mount --propagation private -- sleep 100000 &
holder=$!
sleep 0.3
nsenter -t "$holder" --net -- ip link set lo up
for pair in etc:/etc/corosync lib:/var/lib/corosync log:/var/log/corosync run:/run; do
    nsenter -t "$holder" --mount -- mount --bind "$scratch/${pair%%:*}" "${pair#*:}"
done
nsenter -t "$holder" --net --mount -- corosync -f >"$scratch/corosync.out" 2>&1 &
corosync=$!
for _ in $(seq 50); do
    "$khactl" members --netns "/proc/$holder/ns/net" >/dev/null 2>&1 && break
    sleep 0.2
done

step "khactl members"
"$khactl" members --netns "/proc/$holder/ns/net"
step "khactl members --output json"
"$khactl" members --netns "/proc/$holder/ns/net" --output json
step "khactl watch --output json --count 3"
"$khactl" watch --netns "/proc/$holder/ns/net" --output json --count 3
step "Done; stopping corosync and removing the namespaces"
