#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The project's test command:  sudo tools/test.sh [meson test arguments]
#
# On a fresh Debian 12: installs what is missing with apt-get, configures and
# builds $BUILD_DIR (default: build), runs the unit, dbus, netns, fuzz and
# e2e suites, or whatever the arguments select.  Root suites make their own
# network namespaces and never touch the host's network (e2e runs a real
# NetworkManager in a sandbox of its own, tests/e2e/nm-sandbox.sh); run
# unprivileged they skip, unless CI=true, where they must run.
#
# Without arguments it then builds $BUILD_DIR-asan with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs unit, dbus, netns and fuzz again there:
# the service under test is the sanitized one, and a leak or a sanitizer
# report makes its exit status non-zero, which fails the test that ran it
# (SANITIZE=0 skips this pass), and builds $BUILD_DIR-fuzz with clang to run
# each libFuzzer target for FUZZ_SECONDS (default 30).
#
# The last line is "N passed, N failed[, N skipped]", counted from meson's
# testlog.json files; CI reads it.  A failed build counts as one failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/lib-packages.sh
. tools/lib-packages.sh

BUILD_DIR=${BUILD_DIR:-build}
SUITES=(unit dbus netns fuzz e2e)

# Debian's own python3 (a pyenv one may shadow it on PATH); json is enough.
PY=python3
if [ -x /usr/bin/python3 ]; then
    PY=/usr/bin/python3
fi

log() {
    printf 'test.sh: %s\n' "$*" >&2
}

# "N passed, N failed, N skipped" from testlog.json files (one JSON object a
# line); a missing file counts as one failure.
summary() {
    "$PY" - "$@" <<'EOF'
import json, os, sys

counts = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    if not os.path.exists(path):
        print("test.sh: no %s: meson test did not run" % path, file=sys.stderr)
        counts["failed"] += 1
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif result == "SKIP":
                counts["skipped"] += 1
            else:  # FAIL, ERROR, TIMEOUT, UNEXPECTEDPASS
                counts["failed"] += 1
out = "%d passed, %d failed" % (counts["passed"], counts["failed"])
if counts["skipped"]:
    out += ", %d skipped" % counts["skipped"]
print(out)
EOF
}

install_missing "${PACKAGES_TEST[@]}"

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR"
fi
if ! meson compile -C "$BUILD_DIR"; then
    log "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

if [ $# -gt 0 ]; then
    args=("$@")
else
    # Only the suites that exist.
    args=()
    existing=$(meson introspect --tests "$BUILD_DIR" | "$PY" -c '
import json, sys
for t in json.load(sys.stdin):
    for s in t["suite"]:
        print(s.split(":")[-1])')
    for suite in "${SUITES[@]}"; do
        if grep -qx "$suite" <<<"$existing"; then
            args+=(--suite "$suite")
        fi
    done
    if [ ${#args[@]} -eq 0 ]; then
        log "no tests in suites ${SUITES[*]}"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

testlog="$BUILD_DIR/meson-logs/testlog.json"
rm -f "$testlog"
status=0
meson test -C "$BUILD_DIR" --no-rebuild --print-errorlogs "${args[@]}" || status=$?
testlogs=("$testlog")

if [ $# -eq 0 ] && [ "${SANITIZE:-1}" != 0 ]; then
    asan_dir="$BUILD_DIR-asan"
    # e2e runs under a real NetworkManager: once is enough.
    asan_args=()
    for suite in "${SUITES[@]}"; do
        if [ "$suite" != e2e ] && grep -qx "$suite" <<<"$existing"; then
            asan_args+=(--suite "$suite")
        fi
    done
    asan_log="$asan_dir/meson-logs/testlog.json"
    rm -f "$asan_log"
    if [ ! -f "$asan_dir/build.ninja" ]; then
        meson setup "$asan_dir" -Db_sanitize=address,undefined -Db_lundef=false
    fi
    if meson compile -C "$asan_dir"; then
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            meson test -C "$asan_dir" --no-rebuild --print-errorlogs "${asan_args[@]}" || status=1
    else
        log "sanitizer build failed"
        status=1
    fi
    testlogs+=("$asan_log")

    # libFuzzer needs clang: every parser is fuzzed for FUZZ_SECONDS each.
    fuzz_dir="$BUILD_DIR-fuzz"
    fuzz_log="$fuzz_dir/meson-logs/testlog.json"
    rm -f "$fuzz_log"
    if [ ! -f "$fuzz_dir/build.ninja" ]; then
        CC=clang meson setup "$fuzz_dir" -Db_sanitize=address,undefined -Db_lundef=false
    fi
    meson configure "$fuzz_dir" -Dfuzz_seconds="${FUZZ_SECONDS:-30}"
    if meson compile -C "$fuzz_dir"; then
        meson test -C "$fuzz_dir" --no-rebuild --print-errorlogs --suite fuzz || status=1
    else
        log "fuzz build failed"
        status=1
    fi
    testlogs+=("$fuzz_log")
fi

summary "${testlogs[@]}"
exit "$status"
