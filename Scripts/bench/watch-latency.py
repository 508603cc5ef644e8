#!/usr/bin/env python3
"""Runs `khactl watch --output json` and the C reference watcher (cpg-watch) side by side inside one lab node
and stamps every line each prints with the monotonic clock the moment it arrives (both through a pipe read
by this process, so the transport costs both the same). Used by Scripts/bench.sh during crash drills.

  watch-latency.py KHACTL CPG_WATCH OUT READY STOP [IDLE_SECONDS]

Writes JSON lines to OUT: {"src": "khactl"|"c", "t": ns, "kind": ..., "ring": ...} per event, and, with
IDLE_SECONDS > 0, one {"idle": ...} line with each watcher's RSS and CPU over that idle window. Touches READY
once both watchers are connected (and the idle window is over); ends both when STOP exists.
"""
import json
import os
import selectors
import subprocess
import sys
import time

khactl, reference, out_path, ready, stop = sys.argv[1:6]
idle = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
group = "khactl-latency"

procs = {
    "khactl": subprocess.Popen([khactl, "watch", "--output", "json", "--group", group], stdout=subprocess.PIPE),
    "c": subprocess.Popen([reference, group], stdout=subprocess.PIPE),
}
out = open(out_path, "w")
selector = selectors.DefaultSelector()
buffers = {}
for name, proc in procs.items():
    os.set_blocking(proc.stdout.fileno(), False)
    selector.register(proc.stdout, selectors.EVENT_READ, name)
    buffers[name] = b""


def parse(src, line):
    if src == "khactl":
        event = json.loads(line)
        return event["kind"], event.get("ringID") if event["kind"] in ("membership", "quorum") else event.get("group")
    kind, ring = line.split()[:2]
    return kind, ring


# Stamping does as little as it can (a clock read, a read, an append), so that handling one watcher's line
# never delays the stamp of the other's; lines are parsed and written when the run ends.
arrivals = []


def pump(timeout):
    for key, _ in selector.select(timeout):
        now = time.monotonic_ns()
        chunk = os.read(key.fileobj.fileno(), 65536)
        if not chunk:
            selector.unregister(key.fileobj)
            continue
        arrivals.append((key.data, now, chunk))


def write_arrivals():
    for src, now, chunk in arrivals:
        buffers[src] += chunk
        *lines, buffers[src] = buffers[src].split(b"\n")
        for raw in lines:
            kind, ring = parse(src, raw.decode())
            out.write(json.dumps({"src": src, "t": now, "kind": kind, "ring": ring}) + "\n")
    arrivals.clear()
    out.flush()


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


deadline = time.monotonic() + 2.0  # both connected and their first events printed
while time.monotonic() < deadline:
    pump(0.05)
if idle > 0:
    hz = os.sysconf("SC_CLK_TCK")
    before = {name: cpu_ticks(p.pid) for name, p in procs.items()}
    start = time.monotonic()
    while time.monotonic() - start < idle:
        pump(0.2)
    span = time.monotonic() - start
    report = {
        name: {"rssKiB": rss_kib(p.pid), "cpuPercent": 100.0 * (cpu_ticks(p.pid) - before[name]) / hz / span}
        for name, p in procs.items()
    }
    out.write(json.dumps({"idle": report, "seconds": span}) + "\n")
    out.flush()
# Events from here on count; both watchers' first events (the state when each connected) do not.
out.write(json.dumps({"ready": time.monotonic_ns()}) + "\n")
open(ready, "w").close()
while not os.path.exists(stop):
    pump(0.1)
    if any(p.poll() is not None for p in procs.values()):
        sys.exit(f"watch-latency: a watcher ended early: { {n: p.returncode for n, p in procs.items()} }")
pump(0.2)
for p in procs.values():
    p.terminate()
    p.wait(5)
write_arrivals()
