#!/usr/bin/env python3
"""Runs `khactl watch --output json` and the C reference watcher (cpg-watch) side by side inside one lab node.
Each watcher's output goes to a stamper process of its own (stamp.py), which stamps every line with the
monotonic clock the moment it arrives, so each line costs one wake-up to stamp, whichever came first. Used by
Scripts/bench.sh during crash drills and CPG churn.

  watch-latency.py KHACTL CPG_WATCH OUT READY STOP [IDLE_SECONDS]

Writes JSON lines to OUT: {"src": "khactl"|"c", "t": ns, "kind": ..., "ring": ...} per event, one
{"ready": ns} line (events before it do not count: each watcher's first events are the state when it
connected), and, with IDLE_SECONDS > 0, one {"idle": ...} line with each watcher's RSS and CPU over that idle
window. Touches READY once both watchers are connected (and the idle window is over); ends both when STOP
exists.
"""
import json
import os
import subprocess
import sys
import time

khactl, reference, out_path, ready, stop = sys.argv[1:6]
idle = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
group = "khactl-latency"
stamper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stamp.py")

commands = {"khactl": [khactl, "watch", "--output", "json", "--group", group], "c": [reference, group]}
watchers, stampers = {}, {}
for name, command in commands.items():
    watchers[name] = subprocess.Popen(command, stdout=subprocess.PIPE)
    stampers[name] = subprocess.Popen([sys.executable, stamper, f"{out_path}.{name}"], stdin=watchers[name].stdout)
    watchers[name].stdout.close()  # the stamper holds the read end now
out = open(out_path, "w")


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


time.sleep(2.0)  # both connected and their first events printed
if idle > 0:
    hz = os.sysconf("SC_CLK_TCK")
    before = {name: cpu_ticks(p.pid) for name, p in watchers.items()}
    start = time.monotonic()
    time.sleep(idle)
    span = time.monotonic() - start
    report = {
        name: {"rssKiB": rss_kib(p.pid), "cpuPercent": 100.0 * (cpu_ticks(p.pid) - before[name]) / hz / span}
        for name, p in watchers.items()
    }
    out.write(json.dumps({"idle": report, "seconds": span}) + "\n")
out.write(json.dumps({"ready": time.monotonic_ns()}) + "\n")
open(ready, "w").close()
while not os.path.exists(stop):
    time.sleep(0.1)
    if any(p.poll() is not None for p in watchers.values()):
        sys.exit(f"watch-latency: a watcher ended early: { {n: p.returncode for n, p in watchers.items()} }")
time.sleep(0.2)
for p in watchers.values():
    p.terminate()
    p.wait(5)
for name, p in stampers.items():
    p.wait(5)
    for line in open(f"{out_path}.{name}"):
        record = json.loads(line)
        if name == "khactl":
            event = json.loads(record["line"])
            kind = event["kind"]
            ring = event.get("ringID") if kind in ("membership", "quorum") else event.get("group")
        else:
            kind, ring = record["line"].split()[:2]
        out.write(json.dumps({"src": name, "t": record["t"], "kind": kind, "ring": ring}) + "\n")
    os.remove(f"{out_path}.{name}")
out.close()
