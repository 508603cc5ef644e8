#!/usr/bin/env bash
# The price of a timing preset: false failovers of a loaded cluster. Needs root (the lab makes namespaces).
#   Scripts/load-test.sh [--timing default|fast] [--minutes 30] [--loss-permille 10] [--name load]
# Makes the Kubernetes profile's cluster on 3 bare lab controllers (`lab bootstrap --timing T`), lets it
# settle, then for --minutes loads every node at once and injects no fault:
#   - CPU: as many busy loops per node as the machine has cores (every node at once: the host's CPUs are
#     saturated, three times over), at normal priority, as a busy controller's workloads would be;
#   - loss: each node drops --loss-permille of every packet it sends (nftables `numgen random`, inside the
#     node's namespace);
#   - jitter: each node's link is shaped (tbf, 20 Mbit/s, up to 20 ms of queue) and a bursty bulk sender
#     fills the queue at random moments, so the cluster's packets wait 0-20 ms behind it.
# (The kernel of the machine this was written on has no sch_netem; tbf, nftables and traffic give the delay
# variation and the loss instead.) The lab client probes the VIP all along (ping every 20 ms, HTTPS /healthz
# every 50 ms, every node sampled for the VIP). With no fault injected, a false failover is a node leaving
# corosync's membership (pacemaker fences what it lost); a lost token whose next ring has the same members is
# counted apart (a pause pacemaker does not see); fencings and the VIP's holder before and after are reported.
# Prints one JSON line; the figures are in Docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

timing=fast
minutes=30
loss=10
name=load
while [ $# -gt 0 ]; do
    case "$1" in
        --timing) timing=$2; shift 2 ;;
        --minutes) minutes=$2; shift 2 ;;
        --loss-permille) loss=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        *) echo "usage: Scripts/load-test.sh [--timing default|fast] [--minutes 30] [--loss-permille 10] [--name load]" >&2; exit 2 ;;
    esac
done
case "$timing" in default | fast) ;; *) echo "load-test: --timing is default or fast" >&2; exit 2 ;; esac
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -ge 1 ]] || { echo "load-test: --minutes must be a whole number >= 1" >&2; exit 2; }
[[ "$loss" =~ ^[0-9]+$ && "$loss" -le 1000 ]] || { echo "load-test: --loss-permille must be 0 to 1000" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "load-test: run as root (the lab makes namespaces)" >&2; exit 2; }

bash Scripts/install-deps.sh >/dev/null
command -v nft >/dev/null || apt-get install -y nftables >/dev/null
swift build -c release --product khactl >/dev/null
khactl=$(swift build -c release --show-bin-path)/khactl
lab() { "$khactl" lab "$1" --name "$name" "${@:2}"; }

export KHACTL_LAB_ROOT
KHACTL_LAB_ROOT=$(mktemp -d /tmp/khactl-load.XXXXXX)
loaders=()
cleanup() {
    for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null || true; done
    lab down >/dev/null 2>&1 || true
    rm -rf "$KHACTL_LAB_ROOT"
}
trap cleanup EXIT

# What runs inside each node for the window: busy loops, the bulk sender, the loss rule and the shaper. It
# ends everything it started when the window is over (or when it is ended).
load="$KHACTL_LAB_ROOT/node-load.sh"
cat >"$load" <<'EOF'
#!/usr/bin/env bash
# node-load.sh PEER SECONDS LOSS_PERMILLE CORES
peer=$1 seconds=$2 loss=$3 cores=$4
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    nft delete table inet khactl_load 2>/dev/null || true
    tc qdisc del dev eth0 root 2>/dev/null || true
}
trap stop EXIT TERM INT
nft -f - <<NFT
table inet khactl_load {
    chain out {
        type filter hook output priority 0; policy accept;
        numgen random mod 1000 < $loss drop
    }
}
NFT
tc qdisc add dev eth0 root tbf rate 20mbit burst 16kb latency 20ms
for _ in $(seq "$cores"); do (while :; do :; done) & pids+=($!); done
/usr/bin/python3 - "$peer" <<'PY' & pids+=($!)
import random, socket, sys, time
# Bursts of bulk UDP to the peer's discard port at random moments: the shaped queue fills and drains.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data = b"x" * 1200
while True:
    end = time.monotonic() + random.uniform(0.01, 0.3)
    while time.monotonic() < end:
        try:
            s.sendto(data, (sys.argv[1], 9))
        except OSError:
            time.sleep(0.001)
    time.sleep(random.uniform(0.05, 1.0))
PY
sleep "$seconds"
EOF
chmod 755 "$load"

echo "load-test: lab $name, timing $timing, $minutes min, loss $loss/1000, $(nproc) busy loops per node" >&2
lab up --nodes 3 --bare >/dev/null
lab bootstrap --profile kubernetes-control-plane --timing "$timing" >/dev/null
lab exec node1 -- crm_resource --wait --timeout=120s >/dev/null
sleep 30  # settle: the first monitors, the fence devices' first starts

counts() {  # per node: token losses, membership changes with a member leaving; successful fencings; stalls
    local losses=() left=()
    for n in 1 2 3; do
        local log="$KHACTL_LAB_ROOT/$name/node$n/var/log/corosync/corosync.log"
        losses+=("$(grep -c 'A processor failed' "$log" || true)")
        left+=("$(grep -c 'was formed. Members.* left: ' "$log" || true)")
    done
    local fenced
    fenced=$(lab exec node1 -- stonith_admin --history '*' --output-as=xml 2>/dev/null | grep -c 'status="success"' || true)
    local stalls
    stalls=$(cat "$KHACTL_LAB_ROOT/$name"/node*/var/log/corosync/corosync.log | grep -c 'not scheduled' || true)
    echo "$(printf '%s\n' "${losses[@]}" | sort -n | tail -1) $(printf '%s\n' "${left[@]}" | sort -n | tail -1) $fenced $stalls"
}
holder() { lab status --output json | python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["resources"] if x["id"]=="vip"]; print((r[0].get("nodes") or ["none"])[0])'; }

read -r bl bm bf bs <<<"$(counts)"
before=$(holder)
seconds=$((minutes * 60))
for n in 1 2 3; do
    peer="198.18.0.1$((n % 3 + 1))"
    lab exec "node$n" -- "$load" "$peer" "$seconds" "$loss" "$(nproc)" >/dev/null 2>&1 &
    loaders+=($!)
done
measured=$(lab measure --output json --url https://198.18.0.100:7443/healthz -- sleep "$seconds" | tail -1)
for pid in "${loaders[@]}"; do wait "$pid" 2>/dev/null || true; done
loaders=()
read -r al am af as <<<"$(counts)"
after=$(holder)

python3 - "$timing" "$minutes" "$loss" "$before" "$after" "$measured" \
    "$((al - bl))" "$((am - bm))" "$((af - bf))" "$((as - bs))" <<'PY'
import json, sys
timing, minutes, loss, before, after, measured = sys.argv[1:7]
losses, left, fenced, stalls = (int(x) for x in sys.argv[7:11])
client = json.loads(measured)
report = {
    "timing": timing, "minutes": int(minutes), "lossPermille": int(loss),
    # A lost token whose new ring has the same members is a pause, not a failover: pacemaker sees no change.
    "tokenLosses": losses,
    # Nothing was injected: a member leaving the membership is a false failover (pacemaker fences the node
    # it lost, whether or not it came back at once).
    "falseFailovers": left, "fencings": fenced, "vipHolderBefore": before, "vipHolderAfter": after,
    "corosyncStalls": stalls,
    "client": {k: client.get(k) for k in ("pingsSent", "pingsLost", "longestPingGap", "httpRequests", "httpFailed", "longestHTTPOutage", "dualActiveSamples")},
}
print(json.dumps(report))
PY
