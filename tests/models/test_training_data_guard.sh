#!/bin/bash
# models/training-data.sh (and run-gr-pairs.sh, which uses it) refuses a work folder that is, contains or lies inside the data folder (it
# deletes and remakes the work folder's subfolders), and leaves the data as it was; make-rainmaking-grid.sh and make-dark-trace-grid.sh
# refuse an output inside their inputs.
set -u
source "$1/models/training-data.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/data/clean-bsds" "$tmp/data/real-rain" "$tmp/data/clean"
echo keep > "$tmp/data/clean/precious.txt"
status=0
# refused MESSAGE WHAT COMMAND...: COMMAND must fail, saying MESSAGE.
refused() {
  local message=$1 what=$2
  shift 2
  if "$@" > /dev/null 2> "$tmp/err"; then
    echo "FAIL: $what was accepted"; status=1
  elif ! grep -q "$message" "$tmp/err"; then
    echo "FAIL: $what: no clear error: $(cat "$tmp/err")"; status=1
  fi
}
for work in "$tmp/data" "$tmp/data/work" "$tmp"; do
  refused "overlaps the data folder" "prepare_training_data, work folder $work" prepare_training_data "$tmp/data" "$work"
  # prepare_storm_set likewise (it deletes and remakes WORK_DIR/storm and storm-src).
  refused "overlaps the data folder" "prepare_storm_set, work folder $work" prepare_storm_set "$tmp/data" "$work"
  # models/run-gr-pairs.sh too, before it writes anything (it needs a built tree: build/).
  if [ -x "$1/build/training/derain-train" ]; then
    refused "overlaps the data folder" "run-gr-pairs.sh, work folder $work" \
      bash "$1/models/run-gr-pairs.sh" "$tmp/data" "$work" 10
  fi
done
# models/make-rainmaking-grid.sh refuses to write its figure inside its input folders.
mkdir -p "$tmp/work/gr-pairs/rainy"
for out in "$tmp/data/clean/precious.txt" "$tmp/work/grid.png"; do
  refused "lies inside the input folder" "make-rainmaking-grid.sh, output $out" \
    bash "$1/models/make-rainmaking-grid.sh" "$tmp/data" "$tmp/work" "$out"
done
[ -e "$tmp/work/grid.png" ] && { echo "FAIL: a figure was written into the work folder"; status=1; }
# models/make-dark-trace-grid.sh likewise.
refused "lies inside the input folder" "make-dark-trace-grid.sh, output $tmp/data/clean/precious.txt" \
  bash "$1/models/make-dark-trace-grid.sh" "$tmp/data" "$tmp/data/clean/precious.txt"
[ "$(cat "$tmp/data/clean/precious.txt" 2>/dev/null)" = keep ] || { echo "FAIL: the data was touched"; status=1; }
[ $status -eq 0 ] && echo "PASS: overlapping work folders and figure outputs refused, data untouched"
exit $status
