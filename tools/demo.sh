#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo:  sudo tools/demo.sh
#
# On a fresh Debian 12, as root: installs what is missing with apt-get,
# builds the service ($BUILD_DIR, default: build), then shows a real
# NetworkManager bringing up a WireGuard mesh of 3 real wireguard-go peers
# with nmcli, each peer's state on D-Bus before and after pinging it, and
# takes everything down again.  NetworkManager, its system bus and the peers
# run in network and mount namespaces of their own (tests/e2e/nm-sandbox.sh,
# the e2e tests' sandbox): the host's network and NetworkManager are never
# touched, and nothing is left behind, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/lib-packages.sh
. tools/lib-packages.sh

BUILD_DIR=${BUILD_DIR:-build}
SANDBOX=tests/e2e/nm-sandbox.sh
SERVICE=org.freedesktop.NetworkManager.wgmesh
MESH_PATH=/org/freedesktop/NetworkManager/wgmesh
PEERS=3

T_START=$(date +%s%N)
DIR=
STEP=starting
TMPD=$(mktemp -d /tmp/wgm-demo.XXXXXX)

ms_since() {
    echo $((($(date +%s%N) - $1) / 1000000))
}

# 1234 -> "1.2 s"
secs() {
    printf '%d.%d s' $(($1 / 1000)) $((($1 % 1000) / 100))
}

say() {
    printf '%s\n' "$*"
}

pkg_say() {
    say "$@"
}

step() {
    STEP=$1
    printf '\n== %s\n' "$1"
}

on_exit() {
    local status=$?
    trap - EXIT INT TERM
    if [ $status -ne 0 ]; then
        say "" "demo FAILED during: $STEP (exit $status)"
        if [ -n "$DIR" ] && [ -f "$DIR/log/nm.log" ]; then
            say "last lines of NetworkManager's log ($DIR/log/nm.log):"
            grep -vE '^<(trace|debug)>' "$DIR/log/nm.log" | tail -n 15 | sed 's/^/    /'
        fi
    fi
    # Everything the sandbox made for this process, whatever state it is in.
    "$SANDBOX" stop-owner $$ 2>/dev/null || true
    rm -rf -- "$TMPD"
    exit $status
}
trap on_exit EXIT
trap 'exit 130' INT TERM

in_sandbox() {
    "$SANDBOX" exec "$DIR" "$@"
}

# ---- reading the mesh from D-Bus, as any user can ------------------------------

# Waits (inside the sandbox) for the plugin's bus name, then until all $1
# peers report State "connected"; prints the bus name and the time.
# shellcheck disable=SC2016 # expanded by the inner shell
read -r -d '' POLL_CONNECTED <<'EOF' || true
n_peers=$1
deadline=$(($(date +%s) + 30))
bus=
while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ -z "$bus" ]; then
        bus=$(gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
            --method org.freedesktop.DBus.ListNames 2>/dev/null |
            grep -o "org.freedesktop.NetworkManager.wgmesh.Connection_[0-9]*" | head -n 1 || true)
    fi
    if [ -n "$bus" ]; then
        n=$(gdbus call --system --dest "$bus" --object-path /org/freedesktop/NetworkManager/wgmesh \
            --method org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>/dev/null |
            grep -o "'State': <'connected'>" | wc -l || true)
        if [ "$n" -eq "$n_peers" ]; then
            echo "$bus $(date +%s%N)"
            exit 0
        fi
    fi
    sleep 0.01
done
exit 1
EOF

# One property from a `gdbus call ... GetAll` reply ("'Name': <'peer-1'>",
# "'RxBytes': <uint64 92>").
prop() {
    local reply=$1 name=$2 v
    v=$(grep -o "'$name': <[^>]*>" <<<"$reply" | head -n 1) || true
    v=${v#*<}
    v=${v%>}
    v=${v#uint64 }
    v=${v#uint32 }
    v=${v//\'/}
    printf '%s' "$v"
}

# Prints the peers' table; their RxBytes end up in PEER_RX[1..].
PEER_RX=()
print_peers() {
    local bus=$1 i reply name state endpoint hs rx tx ago now_us
    printf '    %-8s %-11s %-11s %-18s %-16s %s\n' peer address state endpoint "last handshake" "rx/tx bytes"
    now_us=$(($(date +%s%N) / 1000))
    for ((i = 1; i <= PEERS; i++)); do
        reply=$(in_sandbox gdbus call --system --dest "$bus" --object-path "$MESH_PATH/Peer/$i" \
            --method org.freedesktop.DBus.Properties.GetAll "$SERVICE.Peer")
        name=$(prop "$reply" Name)
        state=$(prop "$reply" State)
        endpoint=$(prop "$reply" Endpoint)
        hs=$(prop "$reply" LatestHandshake)
        rx=$(prop "$reply" RxBytes)
        tx=$(prop "$reply" TxBytes)
        if [ "${hs:-0}" -gt 0 ]; then
            ago="$(((now_us - hs) / 1000)) ms ago"
        else
            ago=never
        fi
        printf '    %-8s %-11s %-11s %-18s %-16s %s\n' "$name" "10.77.1.$((${name#peer-} + 1))" \
            "$state" "$endpoint" "$ago" "$rx/$tx"
        [ "$state" = connected ] || FAILED=$((FAILED + 1))
        PEER_RX[i]=$rx
    done
}

# Whether every peer's RxBytes on D-Bus is above $1, $2, ...
rx_moved() {
    local bus=$1 i rx
    shift
    for ((i = 1; i <= PEERS; i++)); do
        rx=$(prop "$(in_sandbox gdbus call --system --dest "$bus" --object-path "$MESH_PATH/Peer/$i" \
            --method org.freedesktop.DBus.Properties.GetAll "$SERVICE.Peer")" RxBytes)
        [ "${rx:-0}" -gt "${!i}" ] || return 1
    done
}

# ---- the demo -----------------------------------------------------------------

say "NetworkManager-wgmesh demo: a real NetworkManager brings up a WireGuard mesh of $PEERS"
say "real wireguard-go peers with nmcli; each peer's state is read from D-Bus before and"
say "after pinging it.  Everything runs in network namespaces of its own: the host's"
say "network and NetworkManager are not touched."

[ "$(id -u)" -eq 0 ] || {
    say "run it as root: sudo $0"
    exit 1
}

step "1/6 packages"
t=$(date +%s%N)
PKG_APT_LOG=$TMPD/apt.log install_missing "${PACKAGES_DEMO[@]}"
T_INSTALL=$(ms_since "$t")

step "2/6 build ($BUILD_DIR)"
t=$(date +%s%N)
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" >"$TMPD/build.log" 2>&1 || {
        tail -n 30 "$TMPD/build.log"
        exit 1
    }
fi
meson compile -C "$BUILD_DIR" nm-wgmesh-service >>"$TMPD/build.log" 2>&1 || {
    tail -n 30 "$TMPD/build.log"
    exit 1
}
T_BUILD=$(ms_since "$t")
say "$BUILD_DIR/src/service/nm-wgmesh-service built in $(secs "$T_BUILD")"

step "3/6 sandbox"
t=$(date +%s%N)
DIR=$("$SANDBOX" start --peers "$PEERS" --meshes 1 --build "$BUILD_DIR" --owner $$ 2>"$TMPD/sandbox.log") || {
    cat "$TMPD/sandbox.log"
    exit 1
}
T_SANDBOX=$(ms_since "$t")
PREFIX=$("$SANDBOX" get "$DIR" PREFIX)
say "$(in_sandbox NetworkManager --version | sed 's/^/NetworkManager /') running in namespace $PREFIX-nm, on a private system bus"
say "its uplink: $(in_sandbox nmcli -g GENERAL.STATE,IP4.ADDRESS connection show uplink | paste -sd' ') on wan0"
for ((i = 1; i <= PEERS; i++)); do
    say "peer-$i: wireguard-go in $PREFIX-p$i, endpoint $("$SANDBOX" get "$DIR" "PEER_${i}_ENDPOINT"), tunnel address 10.77.1.$((i + 1))"
done
say "ready in $(secs "$T_SANDBOX")"

step "4/6 nmcli connection add + up"
data=$("$SANDBOX" vpn-data "$DIR" 1)
key=$("$SANDBOX" get "$DIR" MESH_1_PRIVATE_KEY)
say "\$ nmcli connection add type vpn con-name mesh vpn-type $SERVICE \\"
say "    vpn.data \"address=10.77.1.1/24, listen-port=51821, peer.1.public-key=..., peer.1.endpoint=10.211.1.2:51820, ...\" \\"
say "    vpn.secrets \"private-key=...\""
in_sandbox nmcli connection add type vpn con-name mesh vpn-type "$SERVICE" \
    vpn.data "$data" vpn.secrets "private-key=$key" | sed 's/^/    /'
unset key

say "\$ nmcli connection up mesh"
# nmcli in the background, D-Bus watched meanwhile: the time to "all
# connected" does not depend on when nmcli returns.
up_out=$TMPD/nmcli-up.out
up_end=$TMPD/nmcli-up.end
t_up=$(date +%s%N)
{
    if in_sandbox nmcli connection up mesh; then
        date +%s%N >"$up_end"
    fi
} >"$up_out" 2>&1 &
up_pid=$!
if ! connected=$(in_sandbox bash -c "$POLL_CONNECTED" poll "$PEERS"); then
    wait "$up_pid" || true
    sed 's/^/    /' "$up_out"
    say "the peers did not all connect within 30 s"
    exit 1
fi
wait "$up_pid" || true
sed 's/^/    /' "$up_out"
if [ ! -s "$up_end" ]; then
    say "nmcli connection up failed"
    exit 1
fi
T_NMCLI=$((($(cat "$up_end") - t_up) / 1000000))
BUS=${connected% *}
T_CONNECTED=$(((${connected#* } - t_up) / 1000000))
IFACE=$(in_sandbox gdbus call --system --dest "$BUS" --object-path "$MESH_PATH" \
    --method org.freedesktop.DBus.Properties.Get "$SERVICE.Mesh" Interface |
    grep -o "'[^']*'" | tr -d "'")
NM_VIEW=$(in_sandbox nmcli -g GENERAL.STATE,IP4.ADDRESS connection show mesh | paste -sd' ')
say "nmcli returned after $T_NMCLI ms; all $PEERS peers connected on D-Bus ${T_CONNECTED} ms after nmcli started"
say "NetworkManager's view (nmcli -g GENERAL.STATE,IP4.ADDRESS): $NM_VIEW"
say "the plugin: $BUS, interface $IFACE"

step "5/6 peers on D-Bus, pings through $IFACE"
FAILED=0
say "gdbus call --system --dest $BUS ... Peer.GetAll, before any traffic:"
print_peers "$BUS"
PINGS_OK=0
for ((i = 1; i <= PEERS; i++)); do
    addr=10.77.1.$((i + 1))
    if out=$(in_sandbox ping -n -q -i 0.2 -c 3 -W 2 -w 5 "$addr"); then
        PINGS_OK=$((PINGS_OK + 1))
    fi
    route=$(in_sandbox ip -4 route get "$addr" | grep -o 'dev [^ ]*')
    say "    ping peer-$i $addr ($route): $(grep -o '[0-9]* received' <<<"$out") of 3, rtt avg $(grep -o '= [0-9.]*/[0-9.]*' <<<"$out" | cut -d/ -f2) ms"
done
# The service publishes WireGuard's counters once per stats poll (every 5 s
# while all peers are connected).
rx_before=("${PEER_RX[@]:1}")
say "waiting for the next stats poll to publish the pings' bytes..."
t=$(date +%s%N)
until rx_moved "$BUS" "${rx_before[@]}"; do
    if [ "$(ms_since "$t")" -gt 8000 ]; then
        say "    the counters on D-Bus did not move within 8 s"
        FAILED=$((FAILED + 1))
        break
    fi
    sleep 0.2
done
say "after the pings ($(secs "$(ms_since "$t")") later):"
print_peers "$BUS"

step "6/6 nmcli connection down, sandbox removed"
in_sandbox nmcli connection down mesh | sed 's/^/    /'
# The plugin and its wireguard-go live in NetworkManager's namespace.
for ((n = 0; n < 250; n++)); do
    left=$("$SANDBOX" ps "$DIR" | awk -v ns="$PREFIX-nm" \
        '$1 == ns && ($3 == "nm-wgmesh-servi" || $3 == "wireguard-go")' | wc -l)
    links=$(in_sandbox ip -o link show | grep -c ": wgm" || true)
    [ "$left" -eq 0 ] && [ "$links" -eq 0 ] && break
    sleep 0.02
done
if [ "$left" -ne 0 ] || [ "$links" -ne 0 ]; then
    say "after nmcli connection down, something is left:"
    "$SANDBOX" ps "$DIR"
    exit 1
fi
say "no plugin, no wireguard-go of the mesh, no $IFACE left after nmcli connection down"
pids=$("$SANDBOX" ps "$DIR" | cut -d' ' -f2)
t=$(date +%s%N)
"$SANDBOX" stop "$DIR"
DIR=
T_STOP=$(ms_since "$t")
alive=0
for p in $pids; do
    if [ -r "/proc/$p/stat" ] && ! sed 's/.*) //' "/proc/$p/stat" | grep -q '^[ZX]'; then
        alive=$((alive + 1))
    fi
done
namespaces=$(find /run/netns -maxdepth 1 -name "$PREFIX-*" 2>/dev/null | wc -l)
mounts=$(grep -c "$PREFIX" /proc/self/mountinfo || true)
say "sandbox removed in $(secs "$T_STOP"): $namespaces namespaces, $alive processes, $mounts mounts, $([ -e "/tmp/$PREFIX" ] && echo 1 || echo 0) directories left"
if [ "$namespaces" -ne 0 ] || [ "$alive" -ne 0 ] || [ "$mounts" -ne 0 ] || [ -e "/tmp/$PREFIX" ]; then
    exit 1
fi

T_TOTAL=$(ms_since "$T_START")
STEP=summary
say ""
if [ "$FAILED" -ne 0 ] || [ "$PINGS_OK" -ne "$PEERS" ]; then
    say "demo FAILED: $PINGS_OK of $PEERS peers answered pings; $FAILED peer states were not \"connected\" or their counters did not move"
    exit 1
fi
say "Shown: NetworkManager $(NetworkManager --version) activated a $PEERS-peer WireGuard mesh from nmcli;"
say "every peer was \"connected\" on D-Bus ($BUS) ${T_CONNECTED} ms after \`nmcli connection up\`,"
say "before any packet went through the tunnel, answered 3 of 3 pings through $IFACE, and nothing"
say "was left afterwards."
say "Time: $(secs "$T_TOTAL") in all (packages $(secs "$T_INSTALL"), build $(secs "$T_BUILD"), sandbox $(secs "$T_SANDBOX"), nmcli up $T_NMCLI ms)."
