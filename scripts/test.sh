#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test suite.
# Extra arguments go to `meson test` (e.g. --suite core).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build_dir=${DERAIN_BUILD_DIR:-build}
exec 9>".build-lock"
flock 9
out=$(mktemp)
set +e
meson test -C "$build_dir" --print-errorlogs --num-processes 1 "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# One plain summary line that CI systems read (counts of meson test programs).
count() { awk -v label="$1" 'index($0, label) == 1 {print $NF; found = 1} END {if (!found) print 0}' "$out"; }
failed=$(( $(count "Fail:") + $(count "Timeout:") + $(count "Unexpected Pass:") ))
echo "tests: $(count "Ok:") passed, $failed failed, $(count "Skipped:") skipped"
rm -f "$out"
exit "$status"
