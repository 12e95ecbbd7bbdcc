# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Sourced by tools/test.sh and tools/demo.sh: the Debian 12 packages they
# need, and install_missing to install those not there yet.
#
# What installing does to the host beyond the packages themselves:
#   - while apt-get runs, /usr/sbin/policy-rc.d (marked as ours) forbids
#     starting services, so installing network-manager or dbus does not start
#     them on the host's own interfaces (the scripts run their own, in a
#     sandbox); it is removed afterwards, also when apt-get fails or on
#     Ctrl-C, and one left by an interrupted run is recognised and replaced;
#   - on a host running systemd, installing network-manager would also enable
#     NetworkManager.service, NetworkManager-wait-online.service and
#     NetworkManager-dispatcher.service for the next boot: those the install
#     newly enabled are disabled again (one enabled before is left alone).

# ip, NetworkManager, modprobe: sudo and root's login shells have sbin in
# PATH, other ways of becoming root may not.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH=$PATH:/sbin ;; esac
export PATH

# Building the service and running it under a sandboxed NetworkManager
# (tests/e2e/nm-sandbox.sh): what tools/demo.sh needs.  Every command the
# scripts, the sandbox and the test helpers run is in one of these (or in an
# Essential package: bash, coreutils, dash, findutils, grep, sed, hostname).
# shellcheck disable=SC2034 # used by the scripts that source this file
PACKAGES_DEMO=(
    meson ninja-build pkg-config gcc gettext
    libglib2.0-dev libnm-dev
    nettle-dev             # X25519 for the editor's key pairs
    libglib2.0-bin         # gdbus
    network-manager        # NetworkManager, nmcli, nm-online
    wireguard-go
    wireguard-tools        # wg; wg-quick for test-wgquick
    dbus                   # dbus-daemon
    iproute2               # ip
    iputils-ping           # ping
    util-linux             # nsenter, unshare, setpriv
    mount                  # mount
    mawk                   # awk
    kmod                   # modprobe tun where /dev/net/tun is missing
    python3                # the e2e sandbox's syslog sink, tools/test.sh's summary
)
# The GTK 3 and GTK 4 editors (meson -Dgtk=enabled) and their unit tests
# on a private Xvfb display.
# shellcheck disable=SC2034 # used by the scripts that source this file
PACKAGES_GTK=(
    libgtk-3-dev libnma-dev      # the GTK 3 editor (nm-connection-editor)
    libgtk-4-dev libnma-gtk4-dev # the GTK 4 editor (GNOME Settings)
    libgtk-4-bin                 # gtk4-builder-tool: the GTK 4 .ui from the GTK 3 one
    xvfb xauth                   # test-editor-gtk3/gtk4 run on Xvfb
)
# The UI tests (tests/ui, in the e2e suite) and tools/screenshots.sh: the
# real applications under Xvfb, driven over AT-SPI, against the sandbox.
# shellcheck disable=SC2034 # used by the scripts that source this file
PACKAGES_UI=(
    xvfb                     # Xvfb
    xauth                    # the X server's cookie
    dbus-session-bus-common  # session.conf for the private session bus
    gsettings-desktop-schemas dconf-gsettings-backend # toolkit-accessibility, kept in dconf
    at-spi2-core             # the accessibility bus (at-spi-bus-launcher, registryd)
    python3-pyatspi          # the tests (with python3-gi, gir1.2-atspi-2.0)
    network-manager-gnome    # nm-connection-editor (GTK3)
    gnome-control-center     # GNOME Settings 43 (GTK4)
    imagemagick              # import (screenshots), identify (not blank)
    x11-utils                # xwininfo: a window's id by its title, its geometry
    xdotool                  # moves and resizes a window (there is no window manager)
)
# All of tools/test.sh's suites.
# shellcheck disable=SC2034 # used by the scripts that source this file
PACKAGES_TEST=(
    "${PACKAGES_DEMO[@]}"
    "${PACKAGES_UI[@]}"
    "${PACKAGES_GTK[@]}"
    clang libclang-rt-14-dev # libFuzzer for the fuzz suite
    python3-dbusmock         # polkitd, NetworkManager and logind stand-ins (dbus suite)
    appstream                # appstreamcli validates the metainfo (test-metainfo)
)

# Units whose enablement installing network-manager may change.
PKG_SYSTEMD_UNITS=(
    NetworkManager.service
    NetworkManager-wait-online.service
    NetworkManager-dispatcher.service
)

# Marks a policy-rc.d as written by install_missing.
PKG_POLICY_MARKER='# written by NetworkManager-wgmesh tools/lib-packages.sh while apt-get runs'

# install_missing's messages; a script may define its own after sourcing.
pkg_say() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

pkg_apt_get() {
    apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@"
}

# Whether systemd manages this system (not merely installed, as in a
# container).
pkg_have_systemd() {
    command -v systemctl >/dev/null && [ -d /run/systemd/system ]
}

# install_missing PACKAGE...: installs, with apt-get, those of the packages
# dpkg does not list as installed.  Needs root once something is missing.
# With PKG_APT_LOG set, apt-get's output goes to that file and only its last
# lines are shown, on failure.  Returns non-zero if anything failed.
install_missing() {
    local missing=() pkg status=0 policy=/usr/sbin/policy-rc.d unit
    local -A enabled_before=()

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

    if pkg_have_systemd; then
        for unit in "${PKG_SYSTEMD_UNITS[@]}"; do
            enabled_before[$unit]=$(systemctl is-enabled "$unit" 2>/dev/null || true)
        done
    fi

    pkg_say "installing ${missing[*]}"
    # A subshell, so that its EXIT trap removes the policy whatever happens
    # (apt-get failing, Ctrl-C) and leaves the caller's traps alone.
    # (set -e does not hold inside it: it is part of an || list.)
    (
        # Installing network-manager (or dbus) must not start it on the
        # host's own interfaces: the scripts start their own, sandboxed.
        # Someone else's policy is left as it is; ours, left by an
        # interrupted run, is written again and removed afterwards.
        if [ ! -e "$policy" ] || grep -qxF "$PKG_POLICY_MARKER" "$policy" 2>/dev/null; then
            trap 'rm -f "$policy"' EXIT
            if ! { printf '#!/bin/sh\n%s\nexit 101\n' "$PKG_POLICY_MARKER" >"$policy" &&
                chmod 755 "$policy"; }; then
                exit 1
            fi
        fi
        export DEBIAN_FRONTEND=noninteractive
        if [ -n "${PKG_APT_LOG:-}" ]; then
            exec >"$PKG_APT_LOG" 2>&1
        fi
        pkg_apt_get update -q &&
            pkg_apt_get install -y -q --no-install-recommends "${missing[@]}"
    ) || status=$?
    if [ $status -ne 0 ] && [ -n "${PKG_APT_LOG:-}" ]; then
        tail -n 20 "$PKG_APT_LOG"
    fi

    # Enabled for the next boot by this install: not what was asked for.
    # (Disabling one may disable its Also= units: those enabled before are
    # enabled again.)
    if pkg_have_systemd; then
        for unit in "${PKG_SYSTEMD_UNITS[@]}"; do
            if [ "${enabled_before[$unit]:-}" != enabled ] &&
                [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" = enabled ]; then
                pkg_say "disabling $unit again (the install enabled it)"
                systemctl disable --quiet "$unit" || status=1
            fi
        done
        for unit in "${PKG_SYSTEMD_UNITS[@]}"; do
            if [ "${enabled_before[$unit]:-}" = enabled ] &&
                [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" != enabled ]; then
                systemctl enable --quiet "$unit" || status=1
            fi
        done
    fi
    return $status
}
