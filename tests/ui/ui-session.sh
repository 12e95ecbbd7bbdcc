#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A headless desktop session for the UI tests (tests/ui) and
# tools/screenshots.sh:
#
#   ui-session.sh [OPTIONS] -- CMD [ARG...]
#
#   --tap           say "1..0 # SKIP reason" (TAP) when the session cannot
#                   run here; with CI=true that is an error instead
#   --sandbox       a real NetworkManager (tests/e2e/nm-sandbox.sh, root only)
#                   with --peers wireguard-go peers and a wgmesh profile
#                   "mesh" (not active) with all of them
#   --peers N       peers in the sandbox (default 2)
#   --build DIR     the build tree (default: WGM_BUILD_DIR, else ../../build)
#   --out DIR       screenshots, and logs in DIR/logs/<CMD's name>/ (default:
#                   BUILD/tests/ui)
#   --require PROG  skip unless PROG is installed (repeatable)
#
# CMD runs (a *.py with Debian's /usr/bin/python3, which has pyatspi) with:
#   DISPLAY, XAUTHORITY      a private Xvfb (1280x900x24, no TCP, a cookie)
#   DBUS_SESSION_BUS_ADDRESS a private session bus; HOME and XDG_* point into
#                            a temporary directory and were set before the
#                            bus started (bus-activated services such as
#                            at-spi and dconf inherit the bus's environment)
#   LANG, LC_ALL, LANGUAGE   C.UTF-8 / unset: the tests match English labels
#   DBUS_SYSTEM_BUS_ADDRESS  the sandbox's system bus (with --sandbox)
#   NM_VPN_PLUGIN_DIR        a directory holding only the build tree's .name
#                            file (plugin= points into BUILD/properties)
#   WGM_UI_OUT, WGM_UI_LOGS  where screenshots and logs go
#   WGM_UI_SANDBOX, WGM_UI_SANDBOX_SH, WGM_UI_PROFILE, WGM_UI_UUID,
#   WGM_UI_PEERS, WGM_BUILD_DIR, WGM_UI_PYTHON
# Accessibility: toolkit-accessibility is set in the private dconf; the
# first GTK application D-Bus-activates the at-spi bus (nothing to start).
#
# Everything started here carries WGM_UI_SESSION=<its temporary directory>
# in its environment (the bus passes it on to what it activates).  On exit,
# also on failure, Ctrl-C or SIGTERM, every process of this host namespace
# carrying that marker is ended by PID (SIGTERM, then SIGKILL), then Xvfb,
# the bus and the sandbox; the temporary directory is removed.  A watchdog
# in a session of its own does the same should this script be SIGKILLed
# (meson's timeout sends SIGTERM to the test's process group, then SIGKILL
# 0.5 s later: too soon to stop a sandbox).  The sandbox's processes never
# carry the marker: they are stopped by nm-sandbox.sh only.
#
# The exit status is CMD's.
set -euo pipefail

case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH=$PATH:/sbin ;; esac
export PATH

HERE=$(dirname "$(readlink -f "$0")")
SANDBOX_SH=$(readlink -f "$HERE/../e2e/nm-sandbox.sh")
VPN_SERVICE=org.freedesktop.NetworkManager.wgmesh
PROFILE=mesh
SCREEN=1280x900x24
READY_TIMEOUT_S=20

TAP=0
SANDBOX=0
PEERS=2
BUILD=${WGM_BUILD_DIR:-$HERE/../../build}
OUT=
REQUIRE=()
while [ $# -gt 0 ]; do
    case "$1" in
    --tap) TAP=1; shift ;;
    --sandbox) SANDBOX=1; shift ;;
    --peers) PEERS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --require) REQUIRE+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "ui-session: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "ui-session: no command (ui-session.sh [OPTIONS] -- CMD [ARG...])" >&2; exit 2; }
BUILD=$(readlink -f "$BUILD")
OUT=${OUT:-$BUILD/tests/ui}

log() {
    printf 'ui-session: %s\n' "$*" >&2
}

die() {
    log "$*"
    exit 1
}

ms_since() {
    echo $((($(date +%s%N) - $1) / 1000000))
}

# Cannot run here: a TAP skip, or an error in CI, where every test must run.
skip() {
    case "${CI:-}" in
    true | 1) die "UI tests must run in CI, but: $*" ;;
    esac
    if [ "$TAP" -eq 1 ]; then
        printf '1..0 # SKIP %s\n' "$*"
        exit 0
    fi
    log "cannot run: $*"
    exit 77
}

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || echo python3)

# ---- what the session needs -------------------------------------------------

if [ "$SANDBOX" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
    skip "needs root (the NetworkManager sandbox makes network and mount namespaces)"
fi
for prog in Xvfb xauth dbus-daemon gsettings import identify xwininfo xdotool od "${REQUIRE[@]}"; do
    command -v "$prog" >/dev/null || skip "\`$prog\` not found (tools/lib-packages.sh: PACKAGES_UI)"
done
if [ "$SANDBOX" -eq 1 ]; then
    for prog in NetworkManager nmcli wg wireguard-go; do
        command -v "$prog" >/dev/null || skip "\`$prog\` not found (the NetworkManager sandbox needs it)"
    done
fi
"$PY" -c 'import pyatspi' 2>/dev/null || skip "$PY cannot import pyatspi (python3-pyatspi)"
[ -f "$BUILD/data/nm-wgmesh-service.build.name" ] || die "$BUILD is not a configured build tree"
[ -x "$BUILD/src/service/nm-wgmesh-service" ] || die "$BUILD/src/service/nm-wgmesh-service is not built"

# ---- cleanup ----------------------------------------------------------------

T=$(mktemp -d /tmp/wgm-ui.XXXXXX)
XVFB_PID=
BUS_PID=
SB=
# This session's logs only: OUT/logs/<the command's name>/.
name=$(basename "$1")
name=${name%.py}
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || name=session
LOGS=$OUT/logs/$name
rm -rf -- "$LOGS"
mkdir -p "$LOGS"

# PIDs of live processes carrying WGM_UI_SESSION=$T in their environment,
# in this network namespace (the sandbox's never carry it anyway), not this
# script nor the watchdog.
# shellcheck disable=SC2317 # run by the cleanup (a trap)
marked_pids() {
    local f p me
    me=$(stat -L -c %i /proc/self/ns/net)
    while IFS= read -r f; do
        p=${f#/proc/}
        p=${p%/environ}
        if [ "$p" = $$ ] || [ "$p" = "$BASHPID" ]; then
            continue
        fi
        [ "$(stat -L -c %i "/proc/$p/ns/net" 2>/dev/null)" = "$me" ] || continue
        grep -qs '^State:[[:space:]]*[ZX]' "/proc/$p/status" && continue
        [ -e "/proc/$p" ] || continue
        echo "$p"
    done < <(grep -lsxzF "WGM_UI_SESSION=$T" /proc/[0-9]*/environ)
}

# Ends the marked processes: SIGTERM, up to 3 s, then SIGKILL.
# shellcheck disable=SC2317 # run by the cleanup (a trap)
end_marked() {
    local pids n
    for sig in TERM KILL; do
        mapfile -t pids < <(marked_pids)
        [ ${#pids[@]} -gt 0 ] || return 0
        if [ "$sig" = KILL ]; then
            log "still running after SIGTERM, SIGKILL: $(for p in "${pids[@]}"; do printf '%s[%s] ' "$(cat "/proc/$p/comm" 2>/dev/null)" "$p"; done)"
        fi
        kill -"$sig" "${pids[@]}" 2>/dev/null || true
        for ((n = 0; n < 150; n++)); do
            mapfile -t pids < <(marked_pids)
            [ ${#pids[@]} -gt 0 ] || return 0
            sleep 0.02
        done
    done
    log "processes survive SIGKILL: ${pids[*]}"
    return 1
}

# The watchdog: reads lines until "done"; EOF before that means this script
# died without cleaning up.  It lives in a session of its own (meson kills
# the test's process group) and holds no marker.
# shellcheck disable=SC2016 # expanded by the watchdog's shell
watchdog_script='
while read -r line; do
    [ "$line" = done ] && exit 0
done
echo "ui-session watchdog: session $2 died; cleaning up" >&2
for sig in TERM KILL; do
    for f in $(grep -lsxzF "WGM_UI_SESSION=$2" /proc/[0-9]*/environ); do
        p=${f#/proc/}
        kill -$sig "${p%/environ}" 2>/dev/null
    done
    sleep 1
done
"$1" stop-owner "$3" >&2 || true
case "$2" in /tmp/wgm-ui.*) rm -rf --one-file-system -- "$2" ;; esac
'
exec {WD_FD}> >(exec setsid bash -c "$watchdog_script" watchdog "$SANDBOX_SH" "$T" "$$" \
    >>"$LOGS/watchdog.log" 2>&1)

CLEANED=0
# shellcheck disable=SC2317 # run by the traps
cleanup() {
    local status=$? ok=0
    trap - EXIT INT TERM
    [ "$CLEANED" -eq 0 ] || exit "$status"
    CLEANED=1
    # What the cleanup itself runs must not look like the session's.
    export -n WGM_UI_SESSION
    end_marked || ok=1
    for pid in $BUS_PID $XVFB_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in $BUS_PID $XVFB_PID; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$SB" ]; then
        # NetworkManager's and the plugin's log, the peers' (test keys only).
        cp -r -- "$SB/log" "$LOGS/sandbox-log" 2>/dev/null || true
        env -u WGM_UI_SESSION "$SANDBOX_SH" stop "$SB" || ok=1
    fi
    # Any other sandbox owned by this session (none is expected).
    if [ "$SANDBOX" -eq 1 ]; then
        env -u WGM_UI_SESSION "$SANDBOX_SH" stop-owner $$ || ok=1
    fi
    rm -rf --one-file-system -- "$T"
    printf 'done\n' 1>&"$WD_FD" 2>/dev/null || true
    exec {WD_FD}>&-
    if [ "$ok" -ne 0 ]; then
        log "cleanup left something behind"
        [ "$status" -ne 0 ] || status=1
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T0=$(date +%s%N)

# ---- the sandbox (before the session's variables: NetworkManager and the
# plugin must not inherit them) ------------------------------------------------

if [ "$SANDBOX" -eq 1 ]; then
    t=$(date +%s%N)
    SB=$(env -u WGM_UI_SESSION "$SANDBOX_SH" start --peers "$PEERS" --meshes 1 --build "$BUILD" \
        --owner $$ {WD_FD}>&- 2>>"$LOGS/sandbox.log" | tail -n 1) ||
        die "the NetworkManager sandbox did not start: $(tail -n 5 "$LOGS/sandbox.log")"
    data=$("$SANDBOX_SH" vpn-data "$SB" 1)
    key=$("$SANDBOX_SH" get "$SB" MESH_1_PRIVATE_KEY)
    "$SANDBOX_SH" exec "$SB" nmcli connection add type vpn con-name "$PROFILE" \
        vpn-type "$VPN_SERVICE" connection.autoconnect no vpn.data "$data" \
        vpn.secrets "private-key=$key" >>"$LOGS/sandbox.log" 2>&1 ||
        die "nmcli connection add $PROFILE failed: $(tail -n 3 "$LOGS/sandbox.log")"
    UUID=$("$SANDBOX_SH" exec "$SB" nmcli -g connection.uuid connection show "$PROFILE")
    export WGM_UI_SANDBOX=$SB WGM_UI_PROFILE=$PROFILE WGM_UI_UUID=$UUID WGM_UI_PEERS=$PEERS
    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$SB/run/dbus/system_bus_socket
    log "sandbox $SB with profile $PROFILE ($UUID) in $(ms_since "$t") ms"
fi

# ---- the session's environment --------------------------------------------------

# Nothing of the caller's desktop.
unset DISPLAY WAYLAND_DISPLAY XAUTHORITY DBUS_SESSION_BUS_ADDRESS SESSION_MANAGER \
    XDG_CURRENT_DESKTOP XDG_SESSION_DESKTOP XDG_SESSION_TYPE XDG_SEAT XDG_SESSION_ID \
    XDG_VTNR DESKTOP_SESSION GNOME_SETUP_DISPLAY NO_AT_BRIDGE GTK_A11Y GTK_MODULES \
    GSETTINGS_BACKEND AT_SPI_BUS_ADDRESS LANGUAGE LC_MESSAGES GIO_USE_VFS
mkdir -p "$T"/{home,run,config,cache,data,vpn}
chmod 0700 "$T/run"
export WGM_UI_SESSION=$T
export HOME=$T/home XDG_RUNTIME_DIR=$T/run XDG_CONFIG_HOME=$T/config
export XDG_CACHE_HOME=$T/cache XDG_DATA_HOME=$T/data
export XDG_DATA_DIRS=/usr/local/share:/usr/share XDG_CONFIG_DIRS=/etc/xdg
export LANG=C.UTF-8 LC_ALL=C.UTF-8
export GDK_BACKEND=x11
# NetworkManager reads the build tree's .name file through the sandbox;
# the clients (libnm) read it here.  libnm wants it root's (or the user's)
# and not writable by others.
install -m 0644 "$BUILD/data/nm-wgmesh-service.build.name" "$T/vpn/nm-wgmesh-service.name"
export NM_VPN_PLUGIN_DIR=$T/vpn
export WGM_UI_OUT=$OUT WGM_UI_LOGS=$LOGS WGM_UI_SANDBOX_SH=$SANDBOX_SH WGM_BUILD_DIR=$BUILD
export WGM_UI_PYTHON=$PY

# ---- Xvfb with a cookie: no one else on this host can connect ----------------

t=$(date +%s%N)
cookie=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# The server takes every cookie in its file, whatever display it names.
xauth -q -f "$T/xserver.auth" add :0 MIT-MAGIC-COOKIE-1 "$cookie" 2>/dev/null
# -noreset: by default the server resets when its last client disconnects,
# and a client connecting meanwhile is refused ("cannot open display"):
# at-spi-bus-launcher connects and disconnects just before the first
# application does.
Xvfb -displayfd 3 -screen 0 "$SCREEN" -nolisten tcp -noreset -auth "$T/xserver.auth" \
    3>"$T/display" {WD_FD}>&- </dev/null >>"$LOGS/xvfb.log" 2>&1 &
XVFB_PID=$!
for ((n = 0; ; n++)); do
    [ -s "$T/display" ] && break
    kill -0 "$XVFB_PID" 2>/dev/null || die "Xvfb exited: $(tail -n 5 "$LOGS/xvfb.log")"
    [ "$n" -lt $((READY_TIMEOUT_S * 100)) ] || die "Xvfb did not start in $READY_TIMEOUT_S s"
    sleep 0.01
done
DISPLAY=:$(tr -d '\n' <"$T/display")
export DISPLAY
export XAUTHORITY=$T/home/.Xauthority
xauth -q -f "$XAUTHORITY" add "$DISPLAY" MIT-MAGIC-COOKIE-1 "$cookie" 2>/dev/null
log "Xvfb on $DISPLAY in $(ms_since "$t") ms"

# ---- the session bus ------------------------------------------------------------

t=$(date +%s%N)
export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
dbus-daemon --session --nofork --nopidfile --address="$DBUS_SESSION_BUS_ADDRESS" \
    {WD_FD}>&- </dev/null >>"$LOGS/session-bus.log" 2>&1 &
BUS_PID=$!
for ((n = 0; ; n++)); do
    [ -S "$XDG_RUNTIME_DIR/bus" ] && break
    kill -0 "$BUS_PID" 2>/dev/null || die "the session bus exited: $(tail -n 5 "$LOGS/session-bus.log")"
    [ "$n" -lt $((READY_TIMEOUT_S * 100)) ] || die "the session bus did not start in $READY_TIMEOUT_S s"
    sleep 0.01
done
gsettings set org.gnome.desktop.interface toolkit-accessibility true {WD_FD}>&- ||
    die "gsettings set org.gnome.desktop.interface toolkit-accessibility true failed"
log "session bus and settings in $(ms_since "$t") ms; session ready in $(ms_since "$T0") ms"

# ---- the command ------------------------------------------------------------------

# In the background, so that a signal to this script is handled at once
# (bash runs traps only once a foreground command has ended); the cleanup
# ends CMD too (it carries the marker).
case "$1" in
*.py) "$PY" "$@" {WD_FD}>&- <&0 & ;;
*) "$@" {WD_FD}>&- <&0 & ;;
esac
status=0
wait $! || status=$?
exit "$status"
