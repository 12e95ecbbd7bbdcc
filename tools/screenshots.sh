#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regenerates the README's screenshots:  sudo tools/screenshots.sh
#
# On Debian 12, as root: installs what is missing with apt-get, builds
# $BUILD_DIR (default: build), then runs the UI tests (tests/ui) the way
# the e2e suite does: GNOME Settings and nm-connection-editor on a private
# Xvfb, against the NetworkManager sandbox (tests/e2e/nm-sandbox.sh; the
# host's network is never touched), driven over AT-SPI.  Their screenshots
# are copied to docs/screenshots/:
#   gnome-settings.png              GNOME Settings' Network panel, the mesh on
#   gnome-settings-editor.png       its connection dialog, Identity tab: our
#                                   GTK4 editor with the peers' live state
#   gnome-settings-add-vpn.png      "+" -> WireGuard mesh (wgmesh): the editor
#                                   for a new profile
#   nm-connection-editor.png        nm-connection-editor's VPN tab: our GTK3
#                                   editor, a peer just added
#   nm-connection-editor-peer.png   its "Add peer" dialog, filled in
# A test that fails copies nothing and makes the exit status non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/lib-packages.sh
. tools/lib-packages.sh

BUILD_DIR=${BUILD_DIR:-build}
DEST=docs/screenshots
SHOTS=(gnome-settings.png gnome-settings-editor.png gnome-settings-add-vpn.png nm-connection-editor.png
    nm-connection-editor-peer.png)

[ "$(id -u)" -eq 0 ] || { echo "screenshots.sh: run as root (sudo $0): the sandbox needs it" >&2; exit 1; }
install_missing "${PACKAGES_DEMO[@]}" ${PACKAGES_GTK[@]+"${PACKAGES_GTK[@]}"} "${PACKAGES_UI[@]}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR"
fi
meson compile -C "$BUILD_DIR"

OUT=$(mktemp -d /tmp/wgm-screenshots.XXXXXX)
trap 'rm -rf -- "$OUT"' EXIT
for test in gnome-settings:gnome-control-center nm-connection-editor:nm-connection-editor; do
    # The session ends everything it started, also on failure.
    tests/ui/ui-session.sh --sandbox --require "${test#*:}" --build "$BUILD_DIR" --out "$OUT" \
        -- "tests/ui/test-${test%%:*}.py"
done
mkdir -p "$DEST"
for shot in "${SHOTS[@]}"; do
    cp -- "$OUT/$shot" "$DEST/$shot"
done
printf 'screenshots.sh: %s\n' "${SHOTS[@]/#/$DEST/}"
