#!/usr/bin/env bash
# Installs every Debian package khactl needs to build, test and run its lab. A no-op when all are present.
set -euo pipefail

packages=(
    # Build: corosync's client libraries and pkg-config.
    pkg-config libcpg-dev libquorum-dev libvotequorum-dev libcmap-dev libcorosync-common-dev libqb-dev
    # The cluster stack the tests and the lab run for real.
    corosync pacemaker pacemaker-cli-utils pcs crmsh resource-agents fence-agents haproxy
    # A quorum device for pairs: `khactl witness init` runs qnetd, bootstrap --quorum-device the qdevice daemon.
    corosync-qnetd corosync-qdevice
    # Lab nodes that boot systemd (`lab up --systemd`) are systemd-nspawn containers.
    systemd-container
    # Namespaces, links and process tools for the tests and the lab.
    iproute2 util-linux procps psmisc openssl
    # The demo and the bootstrap tests fetch the API endpoint through the VIP from the lab client.
    curl
    # The spec schema tests validate fixtures with Debian's python3.
    python3 python3-jsonschema python3-yaml
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages (${missing[*]}) and not root: run as root or install them" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's maintainer scripts try to start the daemons; policy-rc.d keeps them stopped, since khactl
# starts its own clusters in namespaces and must not find one running on the host.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
