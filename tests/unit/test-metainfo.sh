#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The built AppStream metainfo is valid (appstreamcli validate --strict:
# no error, warning or info; pedantic hints are shown but allowed) and
# carries the German translation merged from po/de.po.
#
# Usage: test-metainfo.sh BUILT_METAINFO
set -eu

metainfo=$1

if ! command -v appstreamcli >/dev/null; then
    echo "appstreamcli is not installed (Debian: appstream)"
    exit 77
fi
appstreamcli validate --no-net --strict --pedantic --explain "$metainfo"
if ! grep -q '<name xml:lang="de">' "$metainfo"; then
    echo "FAIL: $metainfo has no German name: was po/de.po merged?"
    exit 1
fi
