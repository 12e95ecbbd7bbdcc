#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real NetworkManager in a sandbox, with real wireguard-go peers, for the
# e2e tests and tools/demo.sh.  Root only.
#
#   nm-sandbox.sh start [--peers N] [--meshes M] [--build DIR] [--owner PID]
#                          builds a sandbox, prints its directory (SANDBOX)
#   nm-sandbox.sh exec SANDBOX CMD [ARG...]
#                          runs CMD in NetworkManager's network, mount and UTS
#                          namespaces (nmcli, gdbus, busctl, ip, wg see the
#                          sandbox's system bus, /run and links)
#   nm-sandbox.sh peer-exec SANDBOX I CMD [ARG...]     the same for peer I
#   nm-sandbox.sh world-exec SANDBOX CMD [ARG...]      the "world" namespace
#   nm-sandbox.sh get SANDBOX VAR                      a value of sandbox.env
#   nm-sandbox.sh vpn-data SANDBOX M                   vpn.data of mesh M
#   nm-sandbox.sh nm-start SANDBOX / nm-stop SANDBOX   (re)start or SIGTERM NM
#   nm-sandbox.sh ps SANDBOX       "namespace pid name" of every process in it
#   nm-sandbox.sh stop SANDBOX     removes it: processes, namespaces, files
#   nm-sandbox.sh stop-owner PID   removes every sandbox started for PID
#   nm-sandbox.sh gc               removes sandboxes whose owner has died
#
# Topology (every address lives inside these namespaces; the host's
# interfaces, routes, firewall and files are never touched):
#
#   <prefix>-nm     NetworkManager, its private system bus, nmcli, the plugin
#                   wan0 10.210.0.2/24 gw 10.210.0.1: NM's active "uplink"
#        | veth
#   <prefix>-world  nm0 10.210.0.1/24, p<i> 10.211.<i>.1/24, forwards
#        | veth
#   <prefix>-p<i>   eth0 10.211.<i>.2/24; wireguard-go wgp0, port 51820,
#                   10.77.<m>.<i+1>/24 and one WireGuard peer for each mesh m
#
# Mesh m (1..M) is 10.77.<m>.1/24, listen-port 5182<m>, its own key pair;
# `vpn-data SANDBOX m` prints its vpn.data with every peer, its private key
# is MESH_<m>_PRIVATE_KEY.  <prefix> is wgme<owner>-<n>; the sandbox's
# directory is /tmp/<prefix> (mode 0700: it holds private keys).
#
# NetworkManager runs in a mount namespace of its own where /run,
# /etc/NetworkManager, /var/lib/NetworkManager, /usr/lib/NetworkManager/VPN
# (holding only the build tree's .name file), /usr/lib/NetworkManager/conf.d,
# /usr/lib/NetworkManager/system-connections and /etc/resolv.conf are bind
# mounts of the sandbox's directory, and /sys is read-only (NetworkManager
# then does not wait for udev).  A dbus-daemon of type system listens on that
# /run/dbus/system_bus_socket.  The plugin's syslog lines (NetworkManager
# runs VPN services with NM_VPN_LOG_SYSLOG=1) go to the sandbox's /dev/log,
# which is read into log/nm.log as journald would.
# Logs: SANDBOX/log/{nm,dbus,p<i>}.log.
#
# Nothing read back from the sandbox's files is trusted blindly: only
# directories owned by root with mode 0700 are sandboxes (any user can create
# /tmp/wgme*), and a PID from a .pid file is signalled or entered only while
# its network namespace is the sandbox's (a PID may have been reused).
set -euo pipefail

# ip, NetworkManager and friends live in sbin.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH=$PATH:/sbin ;; esac
export PATH

SELF=$(readlink -f "$0")
TMP_ROOT=/tmp
VPN_SERVICE=org.freedesktop.NetworkManager.wgmesh
PEER_PORT=51820
READY_TIMEOUT_S=20

log() {
    printf 'nm-sandbox: %s\n' "$*" >&2
}

die() {
    log "$*"
    exit 1
}

# ---- the state of one sandbox -----------------------------------------------

is_prefix() {
    [[ $1 =~ ^wgme[0-9]+-[0-9]+$ ]]
}

# Whether $1 is a directory this script made: /tmp/wgme<owner>-<n>, not a
# symlink, owned by root, mode 0700.  Any user may create such a name in
# /tmp; what is in someone else's is never read, signalled or removed.
trusted_dir() {
    local dir=$1
    [[ $dir =~ ^"$TMP_ROOT"/wgme[0-9]+-[0-9]+$ ]] || return 1
    [ ! -L "$dir" ] && [ -d "$dir" ] && [ "$(stat -c %u:%a -- "$dir")" = 0:700 ]
}

check_dir() {
    local dir=$1
    [[ $dir =~ ^"$TMP_ROOT"/wgme[0-9]+-[0-9]+$ ]] || die "not a sandbox directory: $dir"
    trusted_dir "$dir" || die "$dir is not a sandbox of this script (not root's, or not mode 0700)"
    [ -f "$dir/sandbox.env" ] || die "no sandbox at $dir"
}

load() {
    check_dir "$1"
    # shellcheck source=/dev/null
    . "$1/sandbox.env"
}

# Sets $1 here and records it, quoted for the shell, for later commands
# (which source the file).
setvar() {
    printf -v "$1" '%s' "$2"
    printf '%s=%q\n' "$1" "$2" >>"$DIR/sandbox.env"
}

in_range() {
    [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

pid_alive() {
    local state
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Whether process $1 lives in network namespace $2 (a name in /run/netns):
# what makes a PID from a .pid file ours and not a reused one.
pid_in_ns() {
    local pid=$1 ns=$2 a b
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    b=$(stat -L -c %d:%i "/run/netns/$ns" 2>/dev/null) || return 1
    a=$(stat -L -c %d:%i "/proc/$pid/ns/net" 2>/dev/null) || return 1
    [ "$a" = "$b" ]
}

# A PID recorded in file $1 whose process is in namespace $2, or nothing.
read_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    pid_alive "$pid" && pid_in_ns "$pid" "$2" || return 1
    echo "$pid"
}

anchor_pid() {
    read_pid "$DIR/anchor.pid" "$NS_NM" ||
        die "$DIR: the sandbox's bus (anchor.pid) is gone or not in $NS_NM"
}

# A clean environment for everything inside: the sandbox's own system bus
# at its default path, no session bus.
inside_env=(env -u DBUS_SYSTEM_BUS_ADDRESS -u DBUS_SESSION_BUS_ADDRESS -u NOTIFY_SOCKET
    LC_ALL=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

# Runs once inside, before the command: the /run there must be the sandbox's
# (it holds a marker naming it).  Should the anchor have died and its PID been
# reused between the check and nsenter, the command would otherwise run in
# the host's mount namespace, where nmcli reaches the host's NetworkManager.
# shellcheck disable=SC2016 # expanded by the inner shell
inside_check='[ "$(cat /run/wgm-sandbox 2>/dev/null)" = "$1" ] || {
    echo "nm-sandbox: not inside sandbox $1; not running $2" >&2
    exit 125
}
shift
exec "$@"'

# enter_args NETNS PID MARK [--uts]: sets ENTER to the command prefix that
# runs a command in network namespace NETNS (by its name: no PID involved)
# and PID's mount (and UTS) namespace, once the marker there says MARK.  PID
# must be in NETNS.
enter_args() {
    local ns=$1 pid=$2 mark=$3 uts=()
    pid_in_ns "$pid" "$ns" || die "process $pid is not in namespace $ns"
    if [ "${4:-}" = --uts ]; then
        uts=("--uts=/proc/$pid/ns/uts")
    fi
    ENTER=(nsenter "--net=/run/netns/$ns" "--mount=/proc/$pid/ns/mnt" "${uts[@]}"
        -- "${inside_env[@]}" sh -c "$inside_check" sh "$mark")
}

nm_exec() {
    local anchor
    anchor=$(anchor_pid)
    enter_args "$NS_NM" "$anchor" "$PREFIX" --uts
    exec "${ENTER[@]}" "$@"
}

# ---- start ------------------------------------------------------------------

write_config() {
    local i

    mkdir -p "$DIR"/{dev,etc-nm/conf.d,etc-nm/system-connections,etc-nm/VPN,var-lib-nm,vpn,empty,usr-connections,run/dbus,run/wireguard,log}
    : >"$DIR/resolv.conf"
    # What enter_args checks: this /run is the sandbox's.
    printf '%s\n' "$PREFIX" >"$DIR/run/wgm-sandbox"

    cat >"$DIR/etc-nm/NetworkManager.conf" <<'EOF'
# The e2e sandbox's NetworkManager (tests/e2e/nm-sandbox.sh)
[main]
plugins=keyfile
auth-polkit=false
dhcp=internal
dns=none
rc-manager=unmanaged
systemd-resolved=false
hostname-mode=none
no-auto-default=*

[connectivity]
enabled=false

[logging]
level=DEBUG
domains=ALL,VPN_PLUGIN:TRACE
EOF

    cat >"$DIR/etc-nm/system-connections/uplink.nmconnection" <<'EOF'
[connection]
id=uplink
type=ethernet
interface-name=wan0
autoconnect=true

[ethernet]

[ipv4]
method=manual
address1=10.210.0.2/24,10.210.0.1

[ipv6]
method=disabled
EOF
    chmod 600 "$DIR/etc-nm/system-connections/uplink.nmconnection"

    # NetworkManager accepts .name files only root-owned and not writable
    # by group or others.
    install -o root -g root -m 0644 "$BUILD/data/nm-wgmesh-service.build.name" \
        "$DIR/vpn/nm-wgmesh-service.name"

    cat >"$DIR/dbus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
EOF

    for ((i = 1; i <= PEERS; i++)); do
        : >"$DIR/log/p$i.log"
    done
}

make_keys() {
    local m i k
    for ((m = 1; m <= MESHES; m++)); do
        k=$(wg genkey)
        setvar "MESH_${m}_PRIVATE_KEY" "$k"
        setvar "MESH_${m}_PUBLIC_KEY" "$(printf '%s\n' "$k" | wg pubkey)"
        setvar "MESH_${m}_ADDRESS" "10.77.$m.1/24"
        setvar "MESH_${m}_LISTEN_PORT" "$((51820 + m))"
    done
    for ((i = 1; i <= PEERS; i++)); do
        k=$(wg genkey)
        setvar "PEER_${i}_PRIVATE_KEY" "$k"
        setvar "PEER_${i}_PUBLIC_KEY" "$(printf '%s\n' "$k" | wg pubkey)"
        setvar "PEER_${i}_ENDPOINT" "10.211.$i.2:$PEER_PORT"
        setvar "PEER_${i}_NS" "$PREFIX-p$i"
    done
}

make_namespaces() {
    local i ns
    # Every command names its namespace, and veths are created with both ends
    # inside them: nothing ever exists in the host's namespace.
    ip netns add "$NS_NM"
    ip netns add "$NS_WORLD"
    ip -n "$NS_NM" link set lo up
    ip -n "$NS_WORLD" link set lo up
    # /proc/sys/net is the writer's network namespace's (no sysctl needed).
    ip netns exec "$NS_WORLD" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
    ip link add wan0 netns "$NS_NM" type veth peer name nm0 netns "$NS_WORLD"
    ip -n "$NS_WORLD" addr add 10.210.0.1/24 dev nm0
    ip -n "$NS_WORLD" link set nm0 up
    for ((i = 1; i <= PEERS; i++)); do
        ns=$PREFIX-p$i
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip link add "p$i" netns "$NS_WORLD" type veth peer name eth0 netns "$ns"
        ip -n "$NS_WORLD" addr add "10.211.$i.1/24" dev "p$i"
        ip -n "$NS_WORLD" link set "p$i" up
        ip -n "$ns" addr add "10.211.$i.2/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add default via "10.211.$i.1"
    done
}

# One peer: its own /run (so its UAPI socket is private), wireguard-go in
# the foreground (-f) left running when this shell exits.
# shellcheck disable=SC2016 # expanded by the inner shell
peer_script='
set -euo pipefail
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/wireguard
printf "%s\n" "$WGM_MARK" >/run/wgm-sandbox
"$WGM_WG_GO" -f wgp0 </dev/null >>"$WGM_LOG" 2>&1 &
pid=$!
n=0
until [ -S /run/wireguard/wgp0.sock ]; do
    kill -0 "$pid" 2>/dev/null || { echo "wireguard-go exited" >&2; exit 1; }
    n=$((n + 1))
    [ "$n" -lt $((WGM_TIMEOUT * 100)) ] || { echo "no UAPI socket after $WGM_TIMEOUT s" >&2; exit 1; }
    sleep 0.01
done
(umask 077; printf "%s\n" "$WGM_KEY" >/run/wgp0.key)
wg set wgp0 listen-port "$WGM_PORT" private-key /run/wgp0.key $WGM_WG_PEERS
for a in $WGM_ADDRS; do ip addr add "$a" dev wgp0; done
ip link set wgp0 up
echo "$pid"
'

start_peer() {
    local i=$1 m key pub addrs="" wgpeers="" pid
    for ((m = 1; m <= MESHES; m++)); do
        pub=MESH_${m}_PUBLIC_KEY
        wgpeers+=" peer ${!pub} allowed-ips 10.77.$m.1/32"
        addrs+=" 10.77.$m.$((i + 1))/24"
    done
    key=PEER_${i}_PRIVATE_KEY
    pid=$(WGM_WG_GO=$WG_GO WGM_LOG=$DIR/log/p$i.log WGM_KEY=${!key} WGM_PORT=$PEER_PORT \
        WGM_WG_PEERS=$wgpeers WGM_ADDRS=$addrs WGM_MARK=$PREFIX-p$i WGM_TIMEOUT=$READY_TIMEOUT_S \
        ip netns exec "$PREFIX-p$i" bash -c "$peer_script" 2>>"$DIR/log/p$i.log") ||
        die "peer $i did not start: $(tail -n 5 "$DIR/log/p$i.log")"
    echo "$pid" >"$DIR/p$i.pid"
}

# The plugin's syslog(): NetworkManager starts VPN services with
# NM_VPN_LOG_SYSLOG=1, and on a real system the journal shows their lines
# with NetworkManager's.  Here a sink reads the sandbox's /dev/log into
# nm.log, formatted like NetworkManager's own lines.
syslog_py='
import os, re, socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
out = open(sys.argv[2], "ab", buffering=0)
head = re.compile(rb"<([0-9]+)>(?:[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} )?")
levels = [b"<error>"] * 4 + [b"<warn>", b"<info>", b"<info>", b"<debug>"]
while True:
    data = sock.recv(65536)
    m = head.match(data)
    level = levels[int(m.group(1)) & 7] if m else b"<info>"
    msg = data[m.end():] if m else data
    out.write(b"%-7s [%.4f] %s\n" % (level, time.time(), msg.rstrip(b"\n")))
'

# The mount namespace: bind mounts, a /dev of its own (the host's devices,
# and /dev/log pointing at the sink), the sink, then the bus, which anchors
# the namespaces (nsenter finds them through its PID).  NetworkManager comes
# later.  /etc/resolv.conf: NetworkManager is told to leave it alone, and
# the sandbox's empty file covers it all the same; when it is missing there
# is nothing to cover, and when it is a symlink into /run (systemd-resolved),
# the sandbox's /run gets an empty file at its target.
# shellcheck disable=SC2016 # expanded by the inner shell
sandbox_script='
set -euo pipefail
dir=$1
mount -o remount,ro /sys
mount --bind "$dir/etc-nm" /etc/NetworkManager
mount --bind "$dir/var-lib-nm" /var/lib/NetworkManager
mount --bind "$dir/vpn" /usr/lib/NetworkManager/VPN
mount --bind "$dir/empty" /usr/lib/NetworkManager/conf.d
if [ -d /usr/lib/NetworkManager/system-connections ]; then
    mount --bind "$dir/usr-connections" /usr/lib/NetworkManager/system-connections
fi
mount --bind "$dir/run" /run
if [ -f /etc/resolv.conf ]; then
    mount --bind "$dir/resolv.conf" /etc/resolv.conf
elif [ -L /etc/resolv.conf ]; then
    target=$(readlink -m /etc/resolv.conf)
    case "$target" in
    /run/*) mkdir -p "${target%/*}" && : >"$target" ;;
    esac
fi
hostname "$2"

# The tmpfs exists in this mount namespace only; the host sees an empty
# directory.
mount -t tmpfs -o mode=0755,size=64k sandbox-dev "$dir/dev"
mkdir "$dir/dev/net" "$dir/dev/pts" "$dir/dev/shm"
for node in null zero full random urandom tty net/tun; do
    : >"$dir/dev/$node"
    mount --bind "/dev/$node" "$dir/dev/$node"
done
mount --bind /dev/pts "$dir/dev/pts"
mount --bind /dev/shm "$dir/dev/shm"
ln -s pts/ptmx "$dir/dev/ptmx"
ln -s /proc/self/fd "$dir/dev/fd"
ln -s /proc/self/fd/0 "$dir/dev/stdin"
ln -s /proc/self/fd/1 "$dir/dev/stdout"
ln -s /proc/self/fd/2 "$dir/dev/stderr"
ln -s /run/syslog.sock "$dir/dev/log"
mount --move "$dir/dev" /dev

py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" -c "$3" /run/syslog.sock "$dir/log/nm.log" </dev/null >>"$dir/log/dbus.log" 2>&1 &
dbus-daemon --config-file="$dir/dbus.conf" --nofork --nopidfile \
    </dev/null >>"$dir/log/dbus.log" 2>&1 &
echo "$!" >"$dir/anchor.pid"
n=0
until [ -S /run/dbus/system_bus_socket ] && [ -S /run/syslog.sock ]; do
    n=$((n + 1))
    [ "$n" -lt $(($4 * 100)) ] || { echo "no bus or syslog socket after $4 s" >&2; exit 1; }
    sleep 0.01
done
'

nm_start() {
    local n pid anchor
    anchor=$(anchor_pid)
    enter_args "$NS_NM" "$anchor" "$PREFIX" --uts
    # --debug: stay in the foreground, log to stderr.  Its children (the
    # plugin) inherit this environment.  nsenter, env and sh exec: the PID
    # is NetworkManager's.
    "${ENTER[@]}" NetworkManager --debug </dev/null >>"$DIR/log/nm.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/nm.pid"
    # NetworkManager is ready when its startup is complete (the uplink is
    # activated then); nm-online -s waits for exactly that.
    if ! "${ENTER[@]}" nm-online -s -q -t "$READY_TIMEOUT_S"; then
        die "NetworkManager did not finish starting in ${READY_TIMEOUT_S} s (see $DIR/log/nm.log)"
    fi
    for ((n = 0; n < READY_TIMEOUT_S * 20; n++)); do
        if [ "$("${ENTER[@]}" nmcli -g GENERAL.STATE connection show uplink 2>/dev/null)" = activated ]; then
            return 0
        fi
        sleep 0.05
    done
    die "the uplink connection is not active (see $DIR/log/nm.log)"
}

# Signals NetworkManager only while the PID in nm.pid is a live process in
# the sandbox's network namespace: after a crash or a reboot it may be
# anyone's.
nm_running() {
    pid_alive "$1" && pid_in_ns "$1" "$NS_NM"
}

nm_stop() {
    local pid n
    pid=$(cat "$DIR/nm.pid" 2>/dev/null) || return 0
    if nm_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((n = 0; n < 200; n++)); do
            nm_running "$pid" || break
            sleep 0.05
        done
        if nm_running "$pid"; then
            log "NetworkManager (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    elif pid_alive "$pid"; then
        log "nm.pid: process $pid is not in $NS_NM; not signalling it"
    fi
    rm -f "$DIR/nm.pid"
}

cmd_start() {
    local peers=3 meshes=2 build=${WGM_BUILD_DIR:-} owner=$PPID n t0
    while [ $# -gt 0 ]; do
        case "$1" in
        --peers) peers=$2; shift 2 ;;
        --meshes) meshes=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --owner) owner=$2; shift 2 ;;
        *) die "start: unknown argument $1" ;;
        esac
    done
    [ "$(id -u)" -eq 0 ] || die "needs root (network and mount namespaces)"
    [ -n "$build" ] || die "start: --build BUILD_DIR (or WGM_BUILD_DIR) is required"
    build=$(readlink -f "$build")
    [ -f "$build/data/nm-wgmesh-service.build.name" ] || die "$build is not a configured build tree"
    [ -x "$build/src/service/nm-wgmesh-service" ] || die "$build/src/service/nm-wgmesh-service is not built"
    in_range "$peers" 1 200 || die "--peers: 1..200"
    in_range "$meshes" 1 8 || die "--meshes: 1..8"
    for prog in NetworkManager nmcli nm-online dbus-daemon nsenter unshare ip wg hostname; do
        command -v "$prog" >/dev/null || die "$prog not found"
    done
    if [ ! -c /dev/net/tun ]; then
        # A minimal host may not have loaded the module yet.
        modprobe tun 2>/dev/null || true
        [ -c /dev/net/tun ] || die "no /dev/net/tun (wireguard-go needs TUN)"
    fi
    if [ ! -d /usr/lib/NetworkManager/VPN ] || [ ! -d /usr/lib/NetworkManager/conf.d ]; then
        die "/usr/lib/NetworkManager/{VPN,conf.d} missing: is network-manager installed?"
    fi
    WG_GO=${WGM_WIREGUARD_GO:-$(command -v wireguard-go)} || die "wireguard-go not found"

    [[ $owner =~ ^[0-9]+$ ]] || die "--owner: not a PID: $owner"

    cmd_gc
    t0=$(date +%s%N)
    for ((n = 0; ; n++)); do
        [ "$n" -lt 1000 ] || die "no free sandbox name wgme$owner-N in $TMP_ROOT"
        PREFIX=wgme$owner-$n
        DIR=$TMP_ROOT/$PREFIX
        [ -z "$(sandbox_namespaces "$PREFIX")" ] || continue
        # mkdir is the lock: two starts for one owner never share a name.
        # Root's, mode 0700: what trusted_dir() accepts later.
        if mkdir -m 0700 "$DIR" 2>/dev/null; then
            break
        fi
        # Taken (by another start, or by anyone: /tmp is everyone's); any
        # other failure would fail for every name.
        if [ ! -e "$DIR" ] && [ ! -L "$DIR" ]; then
            mkdir -m 0700 "$DIR" || die "cannot create $DIR"
            break
        fi
    done
    trusted_dir "$DIR" || die "$DIR: not root's with mode 0700 after mkdir"
    NS_NM=$PREFIX-nm
    NS_WORLD=$PREFIX-world
    PEERS=$peers
    MESHES=$meshes
    BUILD=$build
    : >"$DIR/sandbox.env"
    setvar PREFIX "$PREFIX"
    setvar DIR "$DIR"
    setvar OWNER "$owner"
    setvar NS_NM "$NS_NM"
    setvar NS_WORLD "$NS_WORLD"
    setvar PEERS "$PEERS"
    setvar MESHES "$MESHES"
    setvar BUILD "$BUILD"
    setvar VPN_SERVICE "$VPN_SERVICE"

    # From here on, a failure (or Ctrl-C) removes what exists so far.
    trap 'trap - EXIT INT TERM; log "start failed; removing $DIR"; do_stop || true' EXIT
    trap 'exit 130' INT TERM

    write_config
    make_keys
    make_namespaces
    for ((n = 1; n <= PEERS; n++)); do
        start_peer "$n"
    done
    ip netns exec "$NS_NM" unshare --mount --uts --propagation slave \
        bash -c "$sandbox_script" sandbox "$DIR" "$PREFIX" "$syslog_py" "$READY_TIMEOUT_S" \
        2>>"$DIR/log/dbus.log" ||
        die "the sandbox's mount namespace failed: $(tail -n 5 "$DIR/log/dbus.log")"
    nm_start

    trap - EXIT INT TERM
    log "sandbox $PREFIX ready in $((($(date +%s%N) - t0) / 1000000)) ms: NetworkManager pid $(cat "$DIR/nm.pid"), $PEERS peers, $DIR"
    echo "$DIR"
}

# ---- stop -------------------------------------------------------------------

sandbox_namespaces() {
    local prefix=$1 ns
    for ns in /run/netns/"$prefix"-*; do
        [ -e "$ns" ] || continue
        basename "$ns"
    done
}

# Ends every process in the sandbox's namespaces (only ours live there):
# SIGTERM first, so the plugin and NetworkManager can take their devices
# down, then SIGKILL.
kill_namespaces() {
    local prefix=$1 ns pids=() n
    local -a nss
    mapfile -t nss < <(sandbox_namespaces "$prefix")
    [ ${#nss[@]} -gt 0 ] || return 0
    for sig in TERM KILL; do
        pids=()
        for ns in "${nss[@]}"; do
            mapfile -t -O ${#pids[@]} pids < <(ip netns pids "$ns" 2>/dev/null || true)
        done
        [ ${#pids[@]} -gt 0 ] || return 0
        kill -"$sig" "${pids[@]}" 2>/dev/null || true
        for ((n = 0; n < 100; n++)); do
            pids=()
            for ns in "${nss[@]}"; do
                mapfile -t -O ${#pids[@]} pids < <(ip netns pids "$ns" 2>/dev/null || true)
            done
            [ ${#pids[@]} -gt 0 ] || return 0
            sleep 0.03
        done
    done
    log "processes survive SIGKILL in $prefix: ${pids[*]}"
    return 1
}

stop_prefix() {
    local prefix=$1 dir=$TMP_ROOT/$1 ns ok=0 trusted=0
    is_prefix "$prefix" || die "not a sandbox prefix: $prefix"
    if trusted_dir "$dir"; then
        trusted=1
    elif [ -e "$dir" ] || [ -L "$dir" ]; then
        log "$dir is not a sandbox of this script (not root's, or not mode 0700); leaving it alone"
    fi
    # NetworkManager first, on its own: it takes the VPN down the way it
    # does on a real shutdown; the rest follows.  Without its namespace
    # (a stale sandbox) there is nothing to stop: the PID is not ours.
    if [ $trusted -eq 1 ] && [ -f "$dir/nm.pid" ] && [ -e "/run/netns/$prefix-nm" ]; then
        DIR=$dir NS_NM=$prefix-nm nm_stop || true
    fi
    kill_namespaces "$prefix" || ok=1
    while read -r ns; do
        ip netns del "$ns" 2>/dev/null || { log "cannot delete namespace $ns"; ok=1; }
    done < <(sandbox_namespaces "$prefix")
    if [ $trusted -eq 1 ]; then
        rm -rf --one-file-system -- "$dir"
    fi
    if [ -n "$(sandbox_namespaces "$prefix")" ] || { [ $trusted -eq 1 ] && [ -e "$dir" ]; }; then
        log "$prefix: something is left"
        ok=1
    fi
    return $ok
}

do_stop() {
    stop_prefix "$PREFIX"
}

cmd_stop() {
    local dir=${1:?stop SANDBOX}
    dir=${dir%/}
    check_dir "$dir"
    stop_prefix "$(basename "$dir")"
}

# Every sandbox of owner PID (the tests' watchdog and the demo's trap).
cmd_stop_owner() {
    local owner=${1:?stop-owner PID} p ok=0
    [[ $owner =~ ^[0-9]+$ ]] || die "stop-owner: not a PID: $owner"
    for p in $(list_prefixes | grep "^wgme$owner-" || true); do
        stop_prefix "$p" || ok=1
    done
    return $ok
}

list_prefixes() {
    local f
    {
        for f in /run/netns/wgme[0-9]*-[0-9]*-*; do
            [ -e "$f" ] || continue
            f=$(basename "$f")
            echo "${f%-*}"
        done
        for f in "$TMP_ROOT"/wgme[0-9]*-[0-9]*; do
            trusted_dir "$f" || continue
            basename "$f"
        done
    } | grep -E '^wgme[0-9]+-[0-9]+$' | sort -u
}

cmd_gc() {
    local p owner
    for p in $(list_prefixes); do
        owner=${p#wgme}
        owner=${owner%%-*}
        if ! kill -0 "$owner" 2>/dev/null; then
            log "removing stale sandbox $p (owner $owner is gone)"
            stop_prefix "$p" || true
        fi
    done
}

# ---- queries ----------------------------------------------------------------

cmd_vpn_data() {
    local m=$1 i pub ep data addr port
    in_range "$m" 1 "$MESHES" || die "vpn-data: mesh 1..$MESHES"
    addr=MESH_${m}_ADDRESS
    port=MESH_${m}_LISTEN_PORT
    data="address=${!addr}, listen-port=${!port}"
    for ((i = 1; i <= PEERS; i++)); do
        pub=PEER_${i}_PUBLIC_KEY
        ep=PEER_${i}_ENDPOINT
        data+=", peer.$i.public-key=${!pub}, peer.$i.endpoint=${!ep}"
        data+=", peer.$i.allowed-ips=10.77.$m.$((i + 1))/32, peer.$i.name=peer-$i"
    done
    echo "$data"
}

cmd_ps() {
    local ns pid
    while read -r ns; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            printf '%s %s %s\n' "$ns" "$pid" "$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')"
        done
    done < <(sandbox_namespaces "$PREFIX")
}

main() {
    local cmd=${1:-}
    [ $# -gt 0 ] && shift
    case "$cmd" in
    start) cmd_start "$@" ;;
    exec)
        load "${1:?exec SANDBOX CMD...}"
        shift
        nm_exec "$@"
        ;;
    peer-exec)
        load "${1:?peer-exec SANDBOX I CMD...}"
        local pid
        in_range "${2:?peer-exec SANDBOX I CMD...}" 1 "$PEERS" || die "peer-exec: peer 1..$PEERS"
        pid=$(read_pid "$DIR/p$2.pid" "$PREFIX-p$2") || die "peer $2 is not running"
        enter_args "$PREFIX-p$2" "$pid" "$PREFIX-p$2"
        shift 2
        exec "${ENTER[@]}" "$@"
        ;;
    world-exec)
        load "${1:?world-exec SANDBOX CMD...}"
        shift
        exec ip netns exec "$NS_WORLD" "$@"
        ;;
    get)
        load "${1:?get SANDBOX VAR}"
        [[ ${2:?get SANDBOX VAR} =~ ^[A-Z0-9_]+$ ]] || die "get: bad name $2"
        [ -n "${!2+x}" ] || die "get: no $2"
        echo "${!2}"
        ;;
    vpn-data)
        load "${1:?vpn-data SANDBOX M}"
        cmd_vpn_data "${2:?vpn-data SANDBOX M}"
        ;;
    nm-start)
        load "${1:?nm-start SANDBOX}"
        nm_start
        ;;
    nm-stop)
        load "${1:?nm-stop SANDBOX}"
        nm_stop
        ;;
    ps)
        load "${1:?ps SANDBOX}"
        cmd_ps
        ;;
    stop) cmd_stop "$@" ;;
    stop-owner) cmd_stop_owner "$@" ;;
    gc) cmd_gc ;;
    *)
        sed -n '3,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
}

main "$@"
