#!/bin/bash
# models/training-data.sh (and run-gr-pairs.sh, which uses it) refuses a work folder that is, contains or lies inside the data folder (it
# deletes and remakes the work folder's subfolders), and leaves the data as it was; make-rainmaking-grid.sh and make-dark-trace-grid.sh refuse an output inside their inputs.
set -u
source "$1/models/training-data.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/data/clean-bsds" "$tmp/data/real-rain" "$tmp/data/clean"
echo keep > "$tmp/data/clean/precious.txt"
status=0
for work in "$tmp/data" "$tmp/data/work" "$tmp"; do
  if prepare_training_data "$tmp/data" "$work" 2> "$tmp/err"; then
    echo "FAIL: work folder $work was accepted"; status=1
  elif ! grep -q "overlaps the data folder" "$tmp/err"; then
    echo "FAIL: no clear error for $work: $(cat "$tmp/err")"; status=1
  fi
done
# prepare_storm_set likewise (it deletes and remakes WORK_DIR/storm and storm-src).
for work in "$tmp/data" "$tmp/data/work" "$tmp"; do
  if prepare_storm_set "$tmp/data" "$work" 2> "$tmp/err"; then
    echo "FAIL: prepare_storm_set accepted the work folder $work"; status=1
  elif ! grep -q "overlaps the data folder" "$tmp/err"; then
    echo "FAIL: prepare_storm_set: no clear error for $work: $(cat "$tmp/err")"; status=1
  fi
done
# models/run-gr-pairs.sh too, before it writes anything (it needs a built tree: build/).
if [ -x "$1/build/training/derain-train" ]; then
  for work in "$tmp/data" "$tmp/data/work" "$tmp"; do
    if bash "$1/models/run-gr-pairs.sh" "$tmp/data" "$work" 10 > /dev/null 2> "$tmp/err"; then
      echo "FAIL: run-gr-pairs.sh accepted the work folder $work"; status=1
    elif ! grep -q "overlaps the data folder" "$tmp/err"; then
      echo "FAIL: run-gr-pairs.sh: no clear error for $work: $(cat "$tmp/err")"; status=1
    fi
  done
fi
# models/make-rainmaking-grid.sh refuses to write its figure inside its input folders.
mkdir -p "$tmp/work/gr-pairs/rainy"
for out in "$tmp/data/clean/precious.txt" "$tmp/work/grid.png"; do
  if bash "$1/models/make-rainmaking-grid.sh" "$tmp/data" "$tmp/work" "$out" > /dev/null 2> "$tmp/err"; then
    echo "FAIL: make-rainmaking-grid.sh accepted the output $out"; status=1
  elif ! grep -q "lies inside the input folder" "$tmp/err"; then
    echo "FAIL: make-rainmaking-grid.sh: no clear error for $out: $(cat "$tmp/err")"; status=1
  fi
done
[ -e "$tmp/work/grid.png" ] && { echo "FAIL: a figure was written into the work folder"; status=1; }
# models/make-dark-trace-grid.sh likewise.
if bash "$1/models/make-dark-trace-grid.sh" "$tmp/data" "$tmp/data/clean/precious.txt" > /dev/null 2> "$tmp/err"; then
  echo "FAIL: make-dark-trace-grid.sh accepted the output $tmp/data/clean/precious.txt"; status=1
elif ! grep -q "lies inside the input folder" "$tmp/err"; then
  echo "FAIL: make-dark-trace-grid.sh: no clear error: $(cat "$tmp/err")"; status=1
fi
[ "$(cat "$tmp/data/clean/precious.txt" 2>/dev/null)" = keep ] || { echo "FAIL: the data was touched"; status=1; }
[ $status -eq 0 ] && echo "PASS: overlapping work folders and figure outputs refused, data untouched"
exit $status
