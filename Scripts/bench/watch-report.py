#!/usr/bin/env python3
"""Summarises watch-latency.py's output files, for the crash drills' membership and quorum events (*.jsonl)
and the settled cluster's CPG churn (*.cpg), counting only events that all three watchers printed.

Two readings of "extra latency of khactl watch over the C watcher":
- per event: how much later khactl's line arrived than the C watcher's, for the same event. Under load this
  is dominated by where the scheduler happened to put each process, so the second C watcher, identical to
  the first, gives the same figure for itself: the noise floor of the run.
- per quantile: each watcher's latency is measured from the event's first arrival at any of the three
  watchers (the earliest moment anyone could know of it), and khactl's median and p99 are set against those
  of the two C watchers together. This compares the latency distributions under the same load, as tail
  latency is compared; the two C watchers set against each other show how far the same program lands.

Then the idle RSS and CPU of khactl watch and the C watcher.

  watch-report.py FOLDER
"""
import glob
import json
import statistics
import sys

folder = sys.argv[1]
WATCHERS = ("khactl", "c", "c2")


def events(paths, kinds):
    """Per event, each watcher's first arrival, for events all three printed; and the idle reports."""
    found, idle = [], []
    for path in paths:
        ready, seen, count = None, {}, {}
        for line in open(path):
            record = json.loads(line)
            if "idle" in record:
                idle.append(record["idle"])
            elif "ready" in record:
                ready = record["ready"]
            elif ready is not None and record["t"] > ready and record["kind"] in kinds:
                # Membership and quorum events are named by their ring; CPG changes of one group by their order.
                key = (record["src"], record["kind"], record["ring"])
                occurrence = count.get(key, 0) if record["kind"] == "cpg" else 0
                count[key] = occurrence + 1
                seen.setdefault((record["kind"], record["ring"], occurrence), {}).setdefault(record["src"], record["t"])
        found += [times for times in seen.values() if all(w in times for w in WATCHERS)]
    return found, idle


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def row(label, values, target=""):
    values = sorted(values)
    print(f"{label:<58} {len(values):>5} {statistics.median(values):>8.2f} {percentile(values, 0.99):>8.2f} {values[-1]:>8.2f}   {target}")


def report(title, found):
    if not found:
        return
    print(f"\n{title:<58} {'n':>5} {'median':>8} {'p99':>8} {'max':>8}   target")
    after = {w: [(e[w] - e["c"]) / 1e6 for e in found] for w in ("khactl", "c2")}
    row("  per event, khactl watch after the C watcher (ms)", after["khactl"])
    row("  per event, second C watcher after the first (noise floor)", after["c2"])
    latency = {w: [(e[w] - min(e.values())) / 1e6 for e in found] for w in WATCHERS}
    # The two C watchers are the same program: together they are the C latency of this run.
    pooled = latency["c"] + latency["c2"]
    row("  latency from the first arrival, khactl watch (ms)", latency["khactl"])
    row("  latency from the first arrival, C watchers (ms)", pooled)

    def extra(label, mine, theirs, target=""):
        median = statistics.median(mine) - statistics.median(theirs)
        p99 = percentile(mine, 0.99) - percentile(theirs, 0.99)
        print(f"{label:<58} {'':>5} {median:>8.2f} {p99:>8.2f} {'':>8}   {target}")

    extra("  per quantile, khactl watch minus the C watchers (ms)", latency["khactl"], pooled, "p99 <= 5 ms")
    extra("  per quantile, second C watcher minus the first (control)", latency["c2"], latency["c"])


drills, idle = events(sorted(glob.glob(folder + "/*.jsonl")), ("membership", "quorum"))
churn, _ = events(sorted(glob.glob(folder + "/*.cpg")), ("cpg",))
if not drills and not churn:
    sys.exit("bench: no event was seen by all three watchers")
report("khactl watch vs C watcher: crash drills", drills)
report("khactl watch vs C watcher: CPG churn, settled cluster", churn)
for each in idle:
    for name in ("khactl", "c"):
        label = "khactl watch" if name == "khactl" else "C watcher (cpg-watch)"
        r = each[name]
        print(f"{'  idle ' + label + ': RSS (MiB), CPU (%)':<58} {'':>5} {r['rssKiB'] / 1024:>8.1f} {r['cpuPercent']:>8.3f}")
