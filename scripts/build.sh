#!/usr/bin/env bash
# Configures build/ once and builds it. Takes a lock so that several shells (or helpers) building
# the same tree at once wait for each other instead of corrupting ninja's state.
# Extra arguments go to `meson setup` the first time (e.g. -Dtorch_dir=/opt/libtorch).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DERAIN_BUILD_DIR:-build}
exec 9>".build-lock"
flock 9
if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" "$@"
fi
# Two jobs: each torch translation unit needs ~1.5 GB and the target machines have 2 cores.
ninja -C "$build_dir" -j"${DERAIN_JOBS:-2}"
