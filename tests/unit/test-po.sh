#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every translation in po/ is complete and current: msgfmt --check passes
# (formats, headers) with no fuzzy or untranslated message, and every
# message of a POT extracted afresh from po/POTFILES.in, with the arguments
# of the NetworkManager-wgmesh-pot target, is translated.  A string added or
# changed in the sources fails here until
#   meson compile -C build NetworkManager-wgmesh-update-po
# has merged it into po/LANG.po and someone has translated it.
#
# Usage: test-po.sh SOURCE_ROOT XGETTEXT_ARG...
set -eu

srcroot=$1
shift
podir=$srcroot/po

for tool in xgettext msgfmt msgcmp; do
    if ! command -v "$tool" >/dev/null; then
        echo "$tool is not installed (Debian: gettext)"
        exit 77
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0

# Every file with marked strings is listed, or its strings would silently
# stay English.
for f in $(cd "$srcroot" && find auth-dialog data properties src \
    -name '*.c' -o -name '*.ui' -o -name '*.metainfo.xml.in' | sort); do
    case $f in
    *.metainfo.xml.in) ;;
    *) grep -qE '(^|[^A-Za-z0-9_])N?C?_\(|translatable="yes"' "$srcroot/$f" || continue ;;
    esac
    if ! grep -qxF "$f" "$podir/POTFILES.in"; then
        echo "FAIL: $f has translatable strings but is not in po/POTFILES.in"
        status=1
    fi
done

# A file listed in POTFILES.in but missing fails here, as it fails the
# POT target.
xgettext --package-name=NetworkManager-wgmesh -D "$srcroot" -f "$podir/POTFILES.in" \
    -o "$tmp/fresh.pot" "$@"
echo "$(grep -c '^msgid ' "$tmp/fresh.pot") messages in POTFILES.in's files (with the header)"

for lang in $(sed 's/#.*//' "$podir/LINGUAS"); do
    po=$podir/$lang.po
    if ! stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$po" 2>&1); then
        printf '%s\n' "$stats"
        echo "FAIL: $lang.po: msgfmt --check"
        status=1
        continue
    fi
    echo "$lang.po: $stats"
    case $stats in
    *fuzzy* | *untranslated*)
        echo "FAIL: $lang.po has fuzzy or untranslated messages"
        status=1
        ;;
    esac
    # Messages of the fresh POT that $lang.po lacks (or has only fuzzy or
    # untranslated): the sources changed and $lang.po was not updated.
    if ! LC_ALL=C msgcmp "$po" "$tmp/fresh.pot" >"$tmp/msgcmp" 2>&1; then
        cat "$tmp/msgcmp"
        echo "FAIL: $lang.po misses messages of the sources (run NetworkManager-wgmesh-update-po and translate)"
        status=1
    fi
done
exit $status
