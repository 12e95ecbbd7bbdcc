#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs a benchmark inside a network namespace of its own, with a private
# /run (so wireguard-go's UAPI socket never meets the host's), and removes
# the namespace afterwards, also on failure.  Never touches the host's network.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "bench: needs root (network namespaces, /dev/net/tun); skipped" >&2
    exit 77
fi

ns="wgmb$$"
cleanup() {
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard && "$@"' sh "$@"
