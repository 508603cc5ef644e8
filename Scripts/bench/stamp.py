#!/usr/bin/env python3
"""Reads a watcher's output on standard input and stamps each chunk with the monotonic clock the moment
read(2) returns it; at end of input writes one JSON line per complete line: {"t": ns, "line": text}.
Each watcher gets a stamper process of its own, so every line costs exactly one wake-up to stamp, whichever
watcher printed first. Creates OUT.first when the first chunk arrives (the watcher is connected).

  stamp.py OUT
"""
import json
import os
import sys
import time

arrivals = []
while True:
    chunk = os.read(0, 65536)
    now = time.monotonic_ns()
    if not chunk:
        break
    if not arrivals:
        open(sys.argv[1] + ".first", "w").close()
    arrivals.append((now, chunk))
buffer = b""
with open(sys.argv[1], "w") as out:
    for now, chunk in arrivals:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            out.write(json.dumps({"t": now, "line": raw.decode()}) + "\n")
