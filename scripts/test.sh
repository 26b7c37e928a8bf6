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
flock -u 9
# Sanitizer build and fuzzing (scripts/hardening.sh; DERAIN_SKIP_HARDENING=1 leaves them out for a
# quick local run). Its own summary line is folded into the one below.
hardening_passed=0 hardening_failed=0 hardening_status=0
if [ -z "${DERAIN_SKIP_HARDENING:-}" ] && [ $# -eq 0 ]; then
  hardening_out=$(mktemp)
  set +e
  bash scripts/hardening.sh 2>&1 | tee "$hardening_out"
  hardening_status=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^hardening: [0-9]+ passed, [0-9]+ failed' "$hardening_out" | tail -n 1 || true)
  if [ -n "$line" ]; then
    hardening_passed=$(echo "$line" | sed -E 's/^hardening: ([0-9]+) passed.*/\1/')
    hardening_failed=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  elif [ "$hardening_status" -ne 0 ]; then
    hardening_failed=1  # it did not get as far as its checks (a build failure)
  fi
  rm -f "$hardening_out"
fi
# One plain summary line that CI systems read (meson test programs plus the hardening checks).
count() { awk -v label="$1" 'index($0, label) == 1 {print $NF; found = 1} END {if (!found) print 0}' "$out"; }
failed=$(( $(count "Fail:") + $(count "Timeout:") + $(count "Unexpected Pass:") + hardening_failed ))
passed=$(( $(count "Ok:") + hardening_passed ))
echo "tests: $passed passed, $failed failed, $(count "Skipped:") skipped"
rm -f "$out"
[ "$status" -eq 0 ] || exit "$status"
exit "$hardening_status"
