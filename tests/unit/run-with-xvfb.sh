#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run-with-xvfb.sh PROGRAM [ARGS...]: runs a GTK test program on a private
# Xvfb display of its own, with its own HOME and runtime directory and no
# session bus (nothing is autolaunched, no accessibility bus), and stops the
# display afterwards, also on failure.  Without Xvfb the test is skipped
# (TAP), except in CI, where that is a failure.
set -u
if ! command -v Xvfb >/dev/null 2>&1; then
    case "${CI:-}" in
    true | 1)
        echo "Bail out! Xvfb is not installed (package xvfb)"
        exit 1
        ;;
    esac
    echo "1..0 # SKIP Xvfb is not installed (package xvfb)"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wgm-xvfb.XXXXXX") || exit 1
xvfb_pid=
cleanup() {
    if [ -n "$xvfb_pid" ]; then
        kill "$xvfb_pid" 2>/dev/null
        wait "$xvfb_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -displayfd: Xvfb picks a free display and writes its number when ready.
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$tmp/display" 2>"$tmp/xvfb.log" &
xvfb_pid=$!
i=0
while [ ! -s "$tmp/display" ] && [ $i -lt 100 ]; do
    if ! kill -0 "$xvfb_pid" 2>/dev/null; then
        echo "Bail out! Xvfb did not start: $(cat "$tmp/xvfb.log")"
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
if [ ! -s "$tmp/display" ]; then
    echo "Bail out! Xvfb gave no display within 10 s"
    exit 1
fi
mkdir -p "$tmp/home" "$tmp/run"
chmod 700 "$tmp/run"
DISPLAY=":$(cat "$tmp/display")" HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" \
    XDG_CONFIG_HOME="$tmp/home/.config" XDG_CACHE_HOME="$tmp/home/.cache" \
    DBUS_SESSION_BUS_ADDRESS=disabled: DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-system-bus" \
    NO_AT_BRIDGE=1 GTK_A11Y=none GSETTINGS_BACKEND=memory \
    "$@"
