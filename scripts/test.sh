#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build_dir=${DERAIN_BUILD_DIR:-build}
exec 9>".build-lock"
flock 9
meson test -C "$build_dir" --print-errorlogs --num-processes 1 "$@"
