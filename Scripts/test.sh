#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs every suite, the real-daemon ones included.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Scripts/install-deps.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: the integration suites start corosync and pacemaker in namespaces and need root" >&2
    exit 1
fi

swift build --build-tests
# Serial: the integration suites each start their own corosync; two builds or clusters at once on
# two cores only make both slower.
swift test --skip-build --no-parallel "$@"
