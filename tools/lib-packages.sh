# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Sourced by tools/test.sh and tools/demo.sh: the Debian 12 packages they
# need, and install_missing to install those not there yet.

# Building the service and running it under a sandboxed NetworkManager
# (tests/e2e/nm-sandbox.sh): what tools/demo.sh needs.
# shellcheck disable=SC2034 # used by the scripts that source this file
PACKAGES_DEMO=(
    meson ninja-build pkg-config gcc gettext
    libglib2.0-dev libglib2.0-bin libnm-dev network-manager
    wireguard-go wireguard-tools
    dbus iproute2 iputils-ping util-linux
    python3 # the e2e sandbox's syslog sink
)
# All of tools/test.sh's suites.
# shellcheck disable=SC2034 # used by the scripts that source this file
PACKAGES_TEST=(
    "${PACKAGES_DEMO[@]}"
    clang libclang-rt-14-dev # libFuzzer for the fuzz suite
    python3-dbusmock
)

# install_missing's messages; a script may define its own after sourcing.
pkg_say() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# install_missing PACKAGE...: installs, with apt-get, those of the packages
# dpkg does not list as installed.  Needs root once something is missing.
# With PKG_APT_LOG set, apt-get's output goes to that file and only its last
# lines are shown, on failure.  Returns non-zero if anything failed.
install_missing() {
    local missing=() pkg status=0 policy=/usr/sbin/policy-rc.d

    if ! command -v dpkg-query >/dev/null; then
        pkg_say "not a Debian system: install $* or their equivalents yourself"
        return 0
    fi
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$'; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        pkg_say "all $# packages present"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        pkg_say "missing packages: ${missing[*]}; run as root (sudo $0) or install them"
        return 1
    fi

    pkg_say "installing ${missing[*]}"
    # A subshell, so that its EXIT trap removes the policy whatever happens
    # (apt-get failing, Ctrl-C) and leaves the caller's traps alone.
    # (set -e does not hold inside it: it is part of an || list.)
    (
        # Installing network-manager (or dbus) must not start it on the
        # host's own interfaces: the scripts start their own, sandboxed.
        if [ ! -e "$policy" ]; then
            trap 'rm -f "$policy"' EXIT
            if ! { printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"; }; then
                exit 1
            fi
        fi
        export DEBIAN_FRONTEND=noninteractive
        if [ -n "${PKG_APT_LOG:-}" ]; then
            exec >"$PKG_APT_LOG" 2>&1
        fi
        apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
    ) || status=$?
    if [ $status -ne 0 ] && [ -n "${PKG_APT_LOG:-}" ]; then
        tail -n 20 "$PKG_APT_LOG"
    fi
    return $status
}
