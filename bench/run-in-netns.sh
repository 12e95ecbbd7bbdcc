#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs a benchmark inside a network namespace of its own, with a private
# /run (so wireguard-go's UAPI socket never meets the host's), and removes
# the namespace afterwards, also on failure.  Never touches the host's network.
set -euo pipefail

case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH=$PATH:/sbin ;; esac
export PATH

if [ "$(id -u)" -ne 0 ]; then
    echo "bench: needs root (network namespaces, /dev/net/tun); skipped" >&2
    exit 77
fi

# Ends whatever still runs in namespace $1 (only a benchmark's processes live
# there: SIGKILL by PID), then deletes it.
remove_ns() {
    local ns=$1 pids n
    for ((n = 0; n < 100; n++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null) || break
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086 # one PID a word
        kill -KILL $pids 2>/dev/null || true
        sleep 0.05
    done
    ip netns del "$ns" 2>/dev/null || echo "bench: cannot delete namespace $ns" >&2
}

# Namespaces of runs whose script was killed before its trap ran.
for f in /run/netns/wgmb*; do
    [ -e "$f" ] || continue
    stale=${f##*/}
    pid=${stale#wgmb}
    if [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
        echo "bench: removing stale namespace $stale" >&2
        remove_ns "$stale"
    fi
done

ns="wgmb$$"
# Made before the trap is armed: a namespace of that name that is not ours
# (ip netns add fails) is never deleted.
ip netns add "$ns"
trap 'remove_ns "$ns"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip -n "$ns" link set lo up
ip netns exec "$ns" sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard && "$@"' sh "$@"
