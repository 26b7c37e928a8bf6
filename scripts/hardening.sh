#!/usr/bin/env bash
# Sanitizer and fuzz runs (part of README command 2, run by scripts/test.sh): a clang build with
# AddressSanitizer + UndefinedBehaviorSanitizer of the libraries, the core tests (model files,
# configs, networks, engine) and the video path's sampling and fusion tests under both sanitizers, and
# libFuzzer on the model-file reader and the config-text parser for FUZZ_SECONDS each (default 60)
# from generated seeds, after replaying every committed regression input once (libFuzzer seed
# FUZZ_SEED, default 1, so a run can be repeated). A crash input found here is saved to
# $build_dir/crashes/: commit it under tests/fuzz/regressions/ with the fix. Prints "hardening: N
# passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DERAIN_HARDENING_BUILD_DIR:-build-hardening}
fuzz_seconds=${FUZZ_SECONDS:-60}

if ! command -v clang++-14 > /dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang-14 libclang-rt-14-dev > /dev/null
fi

exec 9>".build-lock"
flock 9
if [ ! -f "$build_dir/build.ninja" ]; then
  CXX=clang++-14 meson setup "$build_dir" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dgst_plugin=disabled -Dtests=enabled -Dbuildtype=debugoptimized > "$build_dir.setup.log" 2>&1 ||
    { cat "$build_dir.setup.log"; exit 1; }
fi
ninja -C "$build_dir" -j"${DERAIN_JOBS:-2}" tests/core/test-core tests/fuzz/fuzz-model-file \
  tests/fuzz/fuzz-config-text tests/fuzz/fuzz-make-seeds tests/video/test_bilinear_sample \
  tests/video/test_temporal_fusion
flock -u 9

passed=0 failed=0
check() {  # check NAME COMMAND...: runs it, counts the outcome
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); echo "-- $name: passed"; else failed=$((failed + 1)); echo "-- $name: FAILED"; fi
}
# LibTorch itself is not instrumented; its one-time allocations are not leaks of ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
check "core tests under ASan+UBSan" "$build_dir/tests/core/test-core" --gtest_brief=1 \
  --gtest_filter='ModelFile*:Config*:Networks*:EngineTest.OddSizes*:EngineTest.GreyAlpha*:EngineTest.BadImages*:Tiling*:UpsampleSmooth*:ChannelCat*:TensorImage*:GreyRain*:ParallelFor*:MaskUpsample*:AreaPool*:ShuffleAdd*:ResidualAdd*:ConvLSTM*'
# The video path's own pixel loops (remap's sampling reproduced, the fusion's row passes): raw pointer
# arithmetic over image rows, at every border.
check "video sampling tests under ASan+UBSan" "$build_dir/tests/video/test_bilinear_sample" --gtest_brief=1
check "video fusion tests under ASan+UBSan" "$build_dir/tests/video/test_temporal_fusion" --gtest_brief=1

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/model-file" "$seeds/config-text" "$build_dir/crashes"
"$build_dir/tests/fuzz/fuzz-make-seeds" "$seeds/model-file" "$seeds/config-text"
for target in model-file config-text; do
  regressions=tests/fuzz/regressions/$target
  check "fuzz-$target regressions" "$build_dir/tests/fuzz/fuzz-$target" $(find "$regressions" -type f | sort)
  check "fuzz-$target for ${fuzz_seconds}s" "$build_dir/tests/fuzz/fuzz-$target" -max_total_time="$fuzz_seconds" \
    -seed="${FUZZ_SEED:-1}" -rss_limit_mb=4096 -artifact_prefix="$build_dir/crashes/$target-" -print_final_stats=1 "$seeds/$target"
done
echo "hardening: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
