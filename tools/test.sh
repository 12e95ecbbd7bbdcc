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
# (SANITIZE=0 skips this pass; the GTK editors are left out there: GTK and
# fontconfig keep caches LeakSanitizer would report), and builds $BUILD_DIR-fuzz with clang to run
# each libFuzzer target for FUZZ_SECONDS (default 30).
#
# The last line is always "N passed, N failed[, N skipped]", counted from
# meson's testlog.json files; CI reads it.  Whatever else goes wrong counts
# as one failure each: installing packages, configuring or building a build
# directory, one of the suites above missing from the build (without
# arguments they are all required), or the clang build without libFuzzer
# (no *-explore tests).  With CI=true a skipped test counts as failed: CI
# must not pass on tests that did not run.
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

# Failures outside meson test (a step that failed), added to the summary.
FAILED_STEPS=0
fail_step() {
    log "$*"
    FAILED_STEPS=$((FAILED_STEPS + 1))
}

# "N passed, N failed, N skipped" from testlog.json files (one JSON object a
# line) plus FAILED_STEPS; a missing file counts as one failure, and so does
# a skipped test in CI.
summary() {
    local ci=0
    case "${CI:-}" in true | 1) ci=1 ;; esac
    "$PY" - "$FAILED_STEPS" "$ci" "$@" <<'EOF'
import json, os, sys

counts = {"passed": 0, "failed": int(sys.argv[1]), "skipped": 0}
ci = sys.argv[2] == "1"
for path in sys.argv[3:]:
    if not os.path.exists(path):
        print("test.sh: no %s: meson test did not run" % path, file=sys.stderr)
        counts["failed"] += 1
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            test = json.loads(line)
            result = test.get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif result == "SKIP" and ci:
                print("test.sh: %s skipped in CI" % test.get("name"), file=sys.stderr)
                counts["failed"] += 1
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

# The summary line comes last whatever happens, also when a step fails
# before any test ran (set -e) or on Ctrl-C.
testlogs=()
SUMMARY_DONE=0
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit() {
    local status=$?
    trap - EXIT
    if [ "$SUMMARY_DONE" -eq 0 ]; then
        if [ "$FAILED_STEPS" -eq 0 ]; then
            fail_step "stopped early (exit status $status)"
        fi
        summary "${testlogs[@]}" || echo "0 passed, $FAILED_STEPS failed"
        if [ "$status" -eq 0 ]; then
            status=1
        fi
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Suite names (without the project prefix) of the tests in build dir $1,
# one a line; test names instead with $2 = names.
introspect_tests() {
    meson introspect --tests "$1" | "$PY" -c '
import json, sys
names = len(sys.argv) > 1
for t in json.load(sys.stdin):
    if names:
        print(t["name"])
    else:
        for s in t["suite"]:
            print(s.split(":")[-1])' ${2:+"$2"}
}

if ! install_missing "${PACKAGES_TEST[@]}"; then
    fail_step "installing packages failed"
    exit 1
fi

# -Dgtk=enabled: the editors' tests must not vanish because a GTK package
# is missing (a build directory the demo set up may have them off).
if [ ! -f "$BUILD_DIR/build.ninja" ] && ! meson setup "$BUILD_DIR" -Dgtk=enabled; then
    fail_step "meson setup $BUILD_DIR failed"
    exit 1
fi
if ! meson configure "$BUILD_DIR" -Dgtk=enabled; then
    fail_step "meson configure $BUILD_DIR -Dgtk=enabled failed"
    exit 1
fi
if ! meson compile -C "$BUILD_DIR"; then
    fail_step "build failed"
    exit 1
fi

existing=$(introspect_tests "$BUILD_DIR") || {
    fail_step "meson introspect $BUILD_DIR failed"
    exit 1
}
if [ $# -gt 0 ]; then
    args=("$@")
else
    # Every suite is required: one that is not built is a failure, not a
    # silent skip.
    args=()
    for suite in "${SUITES[@]}"; do
        if grep -qx "$suite" <<<"$existing"; then
            args+=(--suite "$suite")
        else
            fail_step "suite $suite has no tests in $BUILD_DIR"
        fi
    done
    if [ ${#args[@]} -eq 0 ]; then
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
    if [ ! -f "$asan_dir/build.ninja" ] &&
        ! meson setup "$asan_dir" -Db_sanitize=address,undefined -Db_lundef=false -Dgtk=disabled; then
        fail_step "meson setup $asan_dir failed"
    elif ! meson configure "$asan_dir" -Dgtk=disabled; then
        fail_step "meson configure $asan_dir -Dgtk=disabled failed"
    elif ! meson compile -C "$asan_dir"; then
        fail_step "sanitizer build failed"
    else
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            meson test -C "$asan_dir" --no-rebuild --print-errorlogs "${asan_args[@]}" || status=1
        testlogs+=("$asan_log")
    fi

    # libFuzzer needs clang: every parser is fuzzed for FUZZ_SECONDS each.
    fuzz_dir="$BUILD_DIR-fuzz"
    fuzz_log="$fuzz_dir/meson-logs/testlog.json"
    fuzz_seconds=${FUZZ_SECONDS:-30}
    rm -f "$fuzz_log"
    if [ ! -f "$fuzz_dir/build.ninja" ] &&
        ! CC=clang meson setup "$fuzz_dir" -Db_sanitize=address,undefined -Db_lundef=false -Dgtk=disabled; then
        fail_step "meson setup $fuzz_dir (clang) failed"
    elif ! meson configure "$fuzz_dir" -Dfuzz_seconds="$fuzz_seconds"; then
        fail_step "meson configure $fuzz_dir failed"
    elif ! meson compile -C "$fuzz_dir"; then
        fail_step "fuzz build failed"
    else
        # Without libFuzzer the targets only replay their seeds: fuzzing
        # would pass without having happened.
        fuzz_tests=$(introspect_tests "$fuzz_dir" names) || fuzz_tests=
        if [ "$fuzz_seconds" -gt 0 ] && ! grep -q -- '-explore$' <<<"$fuzz_tests"; then
            fail_step "no *-explore tests in $fuzz_dir: clang cannot link libFuzzer (libclang-rt-14-dev?)"
        fi
        meson test -C "$fuzz_dir" --no-rebuild --print-errorlogs --suite fuzz || status=1
        testlogs+=("$fuzz_log")
    fi
fi

SUMMARY_DONE=1
summary "${testlogs[@]}" || {
    echo "0 passed, $((FAILED_STEPS + 1)) failed"
    exit 1
}
if [ $FAILED_STEPS -ne 0 ]; then
    status=1
fi
exit "$status"
