#!/usr/bin/env bash
# README command 1: on a fresh Debian 12, installs every package libderain needs, builds it, and runs
# the main job: derains a generated rainy street scene with the default model and prints where the
# before/after images are. Safe to run again (install and configure steps are idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build_dir=${DERAIN_BUILD_DIR:-build}
out_dir=${1:-demo-output}
echo
echo "== libderain built in $build_dir; running the main job =="
# `meson devenv` runs it as an uninstalled build: the source tree's default model ($DERAIN_MODEL_DIR).
meson devenv -C "$build_dir" -w "$PWD" "$PWD/$build_dir/tools/derain-run" --demo "$out_dir"
