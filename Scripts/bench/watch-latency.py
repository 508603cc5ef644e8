#!/usr/bin/env python3
"""Runs `khactl watch --output json` and the C reference watcher (cpg-watch) side by side inside one lab node,
with a second copy of the C watcher ("c2") as a control: how far two identical C programs land apart under the
same load is the bench's own noise floor. Each watcher's output goes to a stamper process of its own
(stamp.py), which stamps every line with the monotonic clock the moment it arrives, so each line costs one
wake-up to stamp, whichever came first. Used by Scripts/bench.sh during crash drills and CPG churn.

  watch-latency.py KHACTL CPG_WATCH OUT READY STOP IDLE_SECONDS ORDER

ORDER names the watchers in the order they start and connect, e.g. "c,khactl,c2": each one starts only once
the one before it has printed its first line (it is connected). corosync notifies its clients in the order
they connected, so the first watcher hears of each event first; the bench rotates the order to spread that
head start evenly.

Writes JSON lines to OUT: {"src": "khactl"|"c"|"c2", "t": ns, "kind": ..., "ring": ...} per event, one
{"ready": ns, "order": [...]} line (events before it do not count: each watcher's first events are the state
when it connected), and, with IDLE_SECONDS > 0, one {"idle": ...} line with the RSS and CPU of khactl and the
C watcher over that idle window. Touches READY once all watchers are connected (and the idle window is over);
ends them when STOP exists.
"""
import json
import os
import subprocess
import sys
import time

khactl, reference, out_path, ready, stop = sys.argv[1:6]
idle = float(sys.argv[6])
order = sys.argv[7].split(",")
group = "khactl-latency"
stamper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stamp.py")

commands = {"khactl": [khactl, "watch", "--output", "json", "--group", group], "c": [reference, group], "c2": [reference, group]}
watchers, stampers = {}, {}
for name in order:
    watchers[name] = subprocess.Popen(commands[name], stdout=subprocess.PIPE)
    stampers[name] = subprocess.Popen([sys.executable, stamper, f"{out_path}.{name}"], stdin=watchers[name].stdout)
    watchers[name].stdout.close()  # the stamper holds the read end now
    deadline = time.monotonic() + 10
    while not os.path.exists(f"{out_path}.{name}.first"):
        if time.monotonic() > deadline or watchers[name].poll() is not None:
            sys.exit(f"watch-latency: {name} printed nothing within 10 s")
        time.sleep(0.01)
out = open(out_path, "w")


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


time.sleep(2.0)  # every watcher's first events printed
if idle > 0:
    hz = os.sysconf("SC_CLK_TCK")
    measured = {name: p for name, p in watchers.items() if name in ("khactl", "c")}
    before = {name: cpu_ticks(p.pid) for name, p in measured.items()}
    start = time.monotonic()
    time.sleep(idle)
    span = time.monotonic() - start
    report = {
        name: {"rssKiB": rss_kib(p.pid), "cpuPercent": 100.0 * (cpu_ticks(p.pid) - before[name]) / hz / span}
        for name, p in measured.items()
    }
    out.write(json.dumps({"idle": report, "seconds": span}) + "\n")
out.write(json.dumps({"ready": time.monotonic_ns(), "order": order}) + "\n")
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
    os.remove(f"{out_path}.{name}.first")
out.close()
