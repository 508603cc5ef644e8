#!/usr/bin/env bash
# khactl's benchmarks, one entry point, printing a table. Needs root (the lab makes namespaces).
#   Scripts/bench.sh [--rounds N] [--only graph|apply|lab|profile|watch|day2|pair|systemd] [--keep DIR]
# Measures: the resource graph (validate, render, parse); khactl apply against sequential pcs commands and
# pcs -f + cib-push on a live one-node lab (same spec, same starting configuration, same run), no-op apply and
# start-up; lab up / down for 3 nodes (3 times each); failover drills, client-observed with dual-active
# sampling, of the lab's example (an IPaddr2 VIP and a cloned haproxy, token 1000 ms) and of the Kubernetes
# profile on 3 bare controllers made a cluster by khactl bootstrap (its default token, 500 ms, and the fast
# timing preset, token 250 ms, with fence_redfish and with the compiled fence_khactl, and each agent's own time); khactl watch
# against a minimal C libcpg/libquorum watcher on the survivors of crash drills, with a second copy of the C
# watcher as the control (extra latency and its noise floor, idle RSS and CPU); day-2 operations on the
# profile's lab measured from the lab client (standby of the VIP's holder by khactl and by pcs, a rolling
# upgrade of three nodes): the endpoint's longest HTTPS outage, ping gaps, dual-active samples; lab nodes that
# boot systemd next to the lab's own (lab up, bootstrap through systemctl, the profile's drills).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=10
only=""
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        *) echo "usage: Scripts/bench.sh [--rounds N] [--only graph|apply|lab|profile|watch|day2|pair|systemd] [--keep DIR]" >&2; exit 2 ;;
    esac
done
# --only runs one part: graph (resource graph), apply, lab (up/down and the example's drills), profile (the
# Kubernetes profile's drills with its default timing and with `timing: fast`), watch (khactl watch against the
# C watcher), pair. --keep copies
# the watchers' raw arrival records to DIR (Scripts/bench/watch-report.py DIR reads them again). day2: standby
# and rolling upgrade on the profile's lab (at least 5 runs each). systemd: bare labs with and without
# `--systemd` in the same run (lab up, lab bootstrap, lab down x3 each; the profile's drills in each).
part() { [ -z "$only" ] || [ "$only" = "$1" ]; }

bash Scripts/install-deps.sh >/dev/null
swift build -c release --product khactl >/dev/null
swift build -c release --product khactl-bench >/dev/null
khactl=$(swift build -c release --show-bin-path)/khactl

if part graph; then
echo "== resource graph (validate + render, parse) =="
"$(swift build -c release --show-bin-path)/khactl-bench"
fi
export KHACTL_LAB_ROOT
KHACTL_LAB_ROOT=$(mktemp -d /tmp/khactl-bench.XXXXXX)
trap 'for lab in bench bench-apply bench-fast; do "$khactl" lab down --name $lab >/dev/null 2>&1 || true; done; rm -rf "$KHACTL_LAB_ROOT"' EXIT

if part apply; then
echo "== apply (one-node lab: khactl vs sequential pcs vs pcs -f + cib-push) =="
"$khactl" lab up --name bench-apply --nodes 1 >/dev/null
apply_lines=$("$khactl" lab exec --name bench-apply node1 -- bash "$PWD/Scripts/bench-apply-node.sh" "$khactl" \
    "$PWD/Fixtures/apply/lab-control-plane.yaml" 5)
"$khactl" lab down --name bench-apply >/dev/null
python3 - "$apply_lines" <<'PY'
import statistics, sys
samples = {}
for line in sys.argv[1].splitlines():
    name, value = line.split()
    samples.setdefault(name, []).append(float(value))
med = {k: statistics.median(v) for k, v in samples.items()}
print(f"\n{'benchmark (ms)':<44} {'min':>8} {'median':>8} {'max':>8}   {'ratio':>7}   target")
rows = [
    ("khactl apply, example spec (--via cib)", "khactl", None, ""),
    ("sequential pcs, same objects", "pcs-seq", "khactl", ">= 20x slower than khactl"),
    ("pcs -f + cib-push, same objects", "pcs-file", "khactl", ">= 5x slower than khactl"),
    ("khactl apply, no changes", "noop", None, "<= 100 ms"),
    ("khactl --version", "khactl-start", None, "<= 30 ms"),
    ("pcs --version", "pcs-start", "khactl-start", ""),
]
for label, key, base, target in rows:
    v = samples[key]
    ratio = f"{med[key] / med[base]:>6.1f}x" if base else ""
    print(f"{label:<44} {min(v):>8.0f} {med[key]:>8.0f} {max(v):>8.0f}   {ratio:>7}   {target}")
PY
fi

if part lab || part profile; then echo "== lab and drills =="; fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

ups=()
downs=()
drills=()
agents=()
if part lab; then
for _ in 1 2 3; do
    start=$(now); "$khactl" lab up --name bench --nodes 3 >/dev/null; ups+=("$(elapsed "$start" "$(now)")")
    start=$(now); "$khactl" lab down --name bench >/dev/null; downs+=("$(elapsed "$start" "$(now)")")
done

fi
run_drills() {  # label: the lab named bench, up; crash x rounds, partition and isolate x min(rounds, 3)
    for mode in crash partition isolate; do
        n=$rounds
        [ "$mode" != crash ] && n=$(( rounds < 3 ? rounds : 3 ))
        drills+=("$1 $mode $("$khactl" lab drill --name bench --rounds "$n" --mode "$mode" --output json)")
    done
}
# Bare labs whose nodes boot systemd (systemd-nspawn, units started by systemctl) next to the lab's own nodes
# (daemons started directly), in the same run: up, bootstrap and down x3, then the profile's drills in each.
lifecycle=()
if part systemd; then
for kind in bare systemd; do
    flag=(); [ "$kind" = systemd ] && flag=(--systemd)
    for _ in 1 2 3; do
        start=$(now); "$khactl" lab up --name bench --nodes 3 --bare "${flag[@]}" >/dev/null; up=$(elapsed "$start" "$(now)")
        start=$(now); "$khactl" lab bootstrap --name bench --profile kubernetes-control-plane >/dev/null; boot=$(elapsed "$start" "$(now)")
        start=$(now); "$khactl" lab down --name bench >/dev/null; down=$(elapsed "$start" "$(now)")
        lifecycle+=("$kind $up $boot $down")
    done
    "$khactl" lab up --name bench --nodes 3 --bare "${flag[@]}" >/dev/null
    "$khactl" lab bootstrap --name bench --profile kubernetes-control-plane >/dev/null
    "$khactl" lab exec --name bench node1 -- crm_resource --wait --timeout=120s >/dev/null
    run_drills "profile-$kind"
    "$khactl" lab down --name bench >/dev/null
done
fi
# The lab's own example (token 1000 ms, the VIP and a cloned haproxy installed with cibadmin).
if part lab; then
"$khactl" lab up --name bench --nodes 3 --example >/dev/null
run_drills example
"$khactl" lab down --name bench >/dev/null
fi
# A bootstrapped pair (profile defaults), without and with a quorum device on the lab's witness: crash x10,
# isolate x6, partition x6; the VIP stays where it went, so the victims alternate and each node is the
# holder half of the time (the report gives each victim's figures).
if part pair; then
for device in none qdevice; do
    if [ "$device" = qdevice ]; then
        "$khactl" lab up --name bench --nodes 2 --bare --witness >/dev/null
        "$khactl" lab bootstrap --name bench --profile kubernetes-control-plane --quorum-device >/dev/null
    else
        "$khactl" lab up --name bench --nodes 2 --bare >/dev/null
        "$khactl" lab bootstrap --name bench --profile kubernetes-control-plane >/dev/null
    fi
    "$khactl" lab exec --name bench node1 -- crm_resource --wait --timeout=120s >/dev/null
    label=pair; [ "$device" = qdevice ] && label=pair+qdevice
    for mode in crash isolate partition; do
        n=6; [ "$mode" = crash ] && n=10
        drills+=("$label $mode $("$khactl" lab drill --name bench --rounds "$n" --mode "$mode" --output json)")
    done
    "$khactl" lab down --name bench >/dev/null
done
fi
# The same profile with `cluster.timing: fast` (token 250 ms, knet's heartbeat apart from it), in a lab of its own
# (before the default one is up, so each runs alone): once with fence_redfish, once with khactl's compiled agent
# fence_khactl; in each, the agent's own time for `status` against a BMC (10 runs inside node1).
agent_time() {
    "$khactl" lab exec --name bench-fast node1 -- bash -c '
        for i in 1 2 3 4 5 6 7 8 9 10; do
            s=$(date +%s%N)
            printf "action=status\nip=198.18.0.212\nipport=443\nusername=admin\npassword_script=cat /etc/khactl/bmc-password\nssl_insecure=1\n" | '"$1"' >/dev/null
            echo $(( ($(date +%s%N) - s) / 1000000 ))
        done'
}
if part profile; then
    for agent in fence_redfish fence_khactl; do
        label=profile-fast; [ "$agent" = fence_khactl ] && label=profile-fast-khactl
        "$khactl" lab up --name bench-fast --nodes 3 --bare >/dev/null
        "$khactl" lab bootstrap --name bench-fast --profile kubernetes-control-plane --timing fast --fence-agent "$agent" >/dev/null
        "$khactl" lab exec --name bench-fast node1 -- crm_resource --wait --timeout=120s >/dev/null
        agents+=("$agent $(agent_time "$agent" | tr '\n' ' ')")
        for mode in crash partition isolate; do
            n=$rounds
            [ "$mode" != crash ] && n=$(( rounds < 3 ? rounds : 3 ))
            drills+=("$label $mode $("$khactl" lab drill --name bench-fast --rounds "$n" --mode "$mode" --output json)")
        done
        "$khactl" lab down --name bench-fast >/dev/null
    done
fi
# The Kubernetes profile as khactl bootstrap makes it, with its default timings (token 500 ms).
latency="$KHACTL_LAB_ROOT/latency"
mkdir -p "$latency"
if part profile || part watch || part day2; then
"$khactl" lab up --name bench --nodes 3 --bare >/dev/null
"$khactl" lab bootstrap --name bench --profile kubernetes-control-plane >/dev/null
"$khactl" lab exec --name bench node1 -- crm_resource --wait --timeout=120s >/dev/null
fi
part profile && run_drills profile

if part watch; then
# khactl watch against the C reference watcher (Scripts/bench/cpg-watch.c, libcpg + libquorum) and a second
# copy of it (the control): all three run on each survivor during crash drills of the same lab, each with a
# stamper of its own. corosync notifies its clients one after another (in a drill traced with perf sched, in
# the order they connected), so the watchers connect one after another in an order that rotates with the
# round and the node.
cpgwatch="$KHACTL_LAB_ROOT/cpg-watch"
cc -O2 -o "$cpgwatch" Scripts/bench/cpg-watch.c -lcpg -lquorum
orders=(khactl,c,c2 c,c2,khactl c2,khactl,c khactl,c2,c c,khactl,c2 c2,c,khactl)
for round in $(seq 1 "$rounds"); do
    "$khactl" lab exec --name bench node1 -- crm_resource --wait --timeout=120s >/dev/null
    holder=$("$khactl" lab exec --name bench node1 -- crm_resource --locate --resource vip --quiet | head -1)
    idle=0
    [ "$round" -eq 1 ] && idle=30   # the first round also measures the watchers at rest
    pids=()
    for index in 1 2 3; do
        node=node$index
        [ "$node" = "$holder" ] && continue
        base="$latency/$round-$node"
        "$khactl" lab exec --name bench "$node" -- python3 "$PWD/Scripts/bench/watch-latency.py" \
            "$khactl" "$cpgwatch" "$base.jsonl" "$base.ready" "$base.stop" "$idle" "${orders[$(((round + index) % 6))]}" &
        pids+=($!)
    done
    for node in node1 node2 node3; do
        [ "$node" = "$holder" ] && continue
        for _ in $(seq 1 600); do [ -e "$latency/$round-$node.ready" ] && break; sleep 0.1; done
    done
    "$khactl" lab drill --name bench --rounds 1 --mode crash --output json >/dev/null
    for node in node1 node2 node3; do touch "$latency/$round-$node.stop"; done
    wait "${pids[@]}"
done
# The same watchers on node1 of the settled cluster, while a CPG member joins and leaves on node2 every
# 0.3 s (60 joins, 60 leaves), once in each order: the cost of khactl's path when the node is not in a crash.
for order in "${orders[@]}"; do
    "$khactl" lab exec --name bench node1 -- crm_resource --wait --timeout=120s >/dev/null
    base="$latency/churn-$order"
    "$khactl" lab exec --name bench node1 -- python3 "$PWD/Scripts/bench/watch-latency.py" \
        "$khactl" "$cpgwatch" "$base.cpg" "$base.ready" "$base.stop" 0 "$order" &
    churn=$!
    for _ in $(seq 1 600); do [ -e "$base.ready" ] && break; sleep 0.1; done
    for _ in $(seq 1 10); do
        "$khactl" lab exec --name bench node2 -- timeout 0.3 "$cpgwatch" khactl-latency >/dev/null || true
    done
    touch "$base.stop"
    wait "$churn"
done
fi
day2="$KHACTL_LAB_ROOT/day2.jsonl"
: >"$day2"
if part day2; then
# Each change measured by `khactl lab measure` from the lab client: ping every 20 ms, HTTPS GET of the VIP's
# /healthz every 50 ms on a new connection, the VIP sampled on every node every 20 ms.
measure() {  # label, command...
    local label=$1; shift
    "$khactl" lab exec --name bench node1 -- crm_resource --wait --timeout=120s >/dev/null
    local line
    line=$("$khactl" lab measure --name bench --output json --standby --url https://198.18.0.100:7443/healthz -- "$@" | tail -1)
    echo "$label $line" >>"$day2"
}
holder() { "$khactl" lab exec --name bench node1 -- crm_resource --locate --resource vip --quiet | head -1; }
runs=$(( rounds < 5 ? 5 : rounds ))
for run in $(seq 1 "$runs"); do
    node=$(holder)
    measure khactl-standby "$khactl" lab exec --name bench node1 -- "$khactl" node standby "$node" --wait 60
    "$khactl" lab exec --name bench node1 -- "$khactl" node unstandby "$node" --wait 60 >/dev/null
    node=$(holder)
    measure pcs-standby "$khactl" lab exec --name bench node1 -- pcs node standby "$node" --wait=60
    "$khactl" lab exec --name bench node1 -- pcs node unstandby "$node" --wait=60 >/dev/null
    measure khactl-upgrade "$khactl" lab upgrade --name bench --each-node --health-url https://127.0.0.1:6443/healthz \
        -- "$khactl" lab standin-upgrade --version "v1.31.$run"
done
fi
if part profile || part watch || part day2; then
"$khactl" lab down --name bench >/dev/null
fi

summary() {  # prints: min median max of the given numbers
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f", v[1], m, v[NR] }'
}

printf '\n%-52s %8s %8s %8s   %s\n' "benchmark" "min" "median" "max" "target"
if [ ${#ups[@]} -gt 0 ]; then
read -r a b c <<<"$(summary "${ups[@]}")"
printf '%-52s %8s %8s %8s   %s\n' "lab up, 3 nodes, all online (s)" "$a" "$b" "$c" "<= 15 s"
read -r a b c <<<"$(summary "${downs[@]}")"
printf '%-52s %8s %8s %8s   %s\n' "lab down, 3 nodes (s)" "$a" "$b" "$c" "<= 2 s"
fi
for kind in bare systemd; do
    ups=(); boots=(); downs=()
    for line in "${lifecycle[@]}"; do
        read -r k u b d <<<"$line"
        [ "$k" = "$kind" ] || continue
        ups+=("$u"); boots+=("$b"); downs+=("$d")
    done
    [ ${#ups[@]} -gt 0 ] || continue
    what="lab nodes"; [ "$kind" = systemd ] && what="systemd nodes"
    read -r a b c <<<"$(summary "${ups[@]}")"
    printf '%-52s %8s %8s %8s\n' "lab up --bare, 3 $what (s)" "$a" "$b" "$c"
    read -r a b c <<<"$(summary "${boots[@]}")"
    printf '%-52s %8s %8s %8s\n' "lab bootstrap, 3 $what (s)" "$a" "$b" "$c"
    read -r a b c <<<"$(summary "${downs[@]}")"
    printf '%-52s %8s %8s %8s\n' "lab down, 3 $what (s)" "$a" "$b" "$c"
done
for line in "${drills[@]}"; do
    label=${line%% *}
    rest=${line#* }
    mode=${rest%% *}
    json=${rest#* }
    python3 - "$label" "$mode" "$json" <<'PY'
import json, sys
label, mode, report = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def row(text, key, target=""):
    s = report.get(key)
    if s:
        print(f"{text:<52} {s['min']:>8.2f} {s['median']:>8.2f} {s['max']:>8.2f}   {target}")
n = report["rounds"]
target = {"profile": "max <= 2.3, max - median <= 0.4", "profile-fast-khactl": "median <= 1.2"}.get(label, "") if mode == "crash" else ""
row(f"{label} {mode} x{n}: VIP answers ping (s)", "failover", target)
row(f"{label} {mode} x{n}: VIP answers TCP :7443 (s)", "tcp")
row(f"{label} {mode} x{n}: corosync membership (s)", "membership")
row(f"{label} {mode} x{n}: pacemaker recovery (s)", "recovery")
print(f"{label + ' ' + mode + ' x' + str(n) + ': dual-active samples':<52} {report['dualActiveSamples']:>8}                     0")
# Where the time went, per phase, from the survivors' daemon logs (seconds since the fault).
for phase, text in [("tokenLost", "token lost"), ("membership", "membership formed"), ("scheduled", "scheduler ran"),
                    ("fenceRequested", "fence requested"), ("fenceConfirmed", "fence confirmed"), ("startIssued", "VIP start issued")]:
    values = sorted(d["phases"][phase] for d in report.get("details", []) if d.get("phases", {}).get(phase) is not None)
    if values:
        m = values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
        print(f"{label + ' ' + mode + ': phase, ' + text + ' (s)':<52} {values[0]:>8.2f} {m:>8.2f} {values[-1]:>8.2f}")
if label.startswith("pair"):
    import statistics
    for victim in sorted({d["victim"] for d in report["details"]}):
        values = sorted(d["failover"] for d in report["details"] if d["victim"] == victim)
        target = "median <= 2.5, max <= 3.0" if label == "pair" else ""
        print(f"{label + ' ' + mode + ': VIP answers, ' + victim + ' died (s)':<52} {values[0]:>8.2f} {statistics.median(values):>8.2f} {values[-1]:>8.2f}   {target}")
    left = [len(d.get("poweredOn", [])) for d in report["details"]]
    print(f"{label + ' ' + mode + ': rounds with one node left on':<52} {sum(1 for x in left if x == 1):>8}   of {len(left)}")
PY
done

if [ ${#agents[@]} -gt 0 ]; then
python3 - "${agents[@]}" <<'PY'
import statistics, sys
medians = {}
print(f"\n{'fence agent, status against the lab BMC, x10':<52} {'min':>8} {'median':>8} {'max':>8}")
for line in sys.argv[1:]:
    agent, *ms = line.split()
    values = sorted(int(x) / 1000 for x in ms)
    medians[agent] = statistics.median(values)
    print(f"{agent + ' (s)':<52} {values[0]:>8.3f} {medians[agent]:>8.3f} {values[-1]:>8.3f}")
if len(medians) == 2:
    print(f"{'fence_redfish / fence_khactl (median)':<52} {medians['fence_redfish'] / medians['fence_khactl']:>8.1f}x")
PY
fi

if [ -s "$day2" ]; then
python3 - "$day2" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, text = line.split(" ", 1)
    runs.setdefault(label, []).append(json.loads(text))
names = {"khactl-standby": "khactl node standby VIP holder --wait",
         "pcs-standby": "pcs node standby VIP holder --wait",
         "khactl-upgrade": "khactl lab upgrade --each-node (3 nodes)"}
print(f"\n{'day-2 operation, from the lab client':<52} {'min':>8} {'median':>8} {'max':>8}")
for label, reports in runs.items():
    for key, what in [("longestHTTPOutage", "longest HTTPS outage (s)"), ("longestPingGap", "longest ping gap (s)"),
                      ("httpFailed", "HTTPS requests failed"), ("seconds", "duration (s)")]:
        values = [r[key] for r in reports]
        print(f"{names[label] + ': ' + what:<52} {min(values):>8.2f} {statistics.median(values):>8.2f} {max(values):>8.2f}")
    print(f"{names[label] + ': dual-active samples':<52} {sum(r['dualActiveSamples'] for r in reports):>8}   (x{len(reports)})")
    print(f"{names[label] + ': most nodes in standby at once':<52} {max(r['maxStandby'] or 0 for r in reports):>8}")
PY
fi

if part watch; then
    python3 Scripts/bench/watch-report.py "$latency"
    if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$latency"/* "$keep"/; fi
fi

