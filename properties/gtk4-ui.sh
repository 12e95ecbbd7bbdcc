#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# gtk4-ui.sh GTK4_BUILDER_TOOL IN.ui OUT.ui: the GTK 3 .ui converted for
# GTK 4.  The tool needs no display or session bus: none is contacted (an
# autolaunched session bus would outlive the build).
set -e
DBUS_SESSION_BUS_ADDRESS=disabled: GTK_A11Y=none NO_AT_BRIDGE=1 \
    "$1" simplify --3to4 "$2" | grep -v can-default >"$3.tmp"
mv "$3.tmp" "$3"
