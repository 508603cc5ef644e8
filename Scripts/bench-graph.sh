#!/usr/bin/env bash
# Times validate + render of generated resource graphs (100 / 1,000 / 10,000 resources) and parsing the 10,000
# resource CIB, in a release build. Prints one BENCH line per size. Target: <= 1 s at 10,000, linear.
set -euo pipefail
cd "$(dirname "$0")/.."
# -enable-testing: the test target uses @testable imports, which release builds otherwise refuse.
KHACTL_BENCH=1 nice -n 15 swift test -c release -Xswiftc -enable-testing --filter "PacemakerTests.BenchmarkTests" 2>&1 \
    | grep -E "^BENCH|passed|failed"
