#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# explore.sh FUZZER SECONDS [libFuzzer options] -- SEED...
# Fuzzes for SECONDS from the seed files, in a throw-away corpus directory
# (libFuzzer writes new inputs into it; never into the source tree).
set -euo pipefail
fuzzer=$1 seconds=$2
shift 2
opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    opts+=("$1")
    shift
done
shift || true
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp -- "$@" "$corpus"/
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "${opts[@]}" "$corpus"
