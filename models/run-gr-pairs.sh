#!/bin/bash
# Issue #16, item 5: does a derainer trained on pairs made by the shipped model's G_R beat one trained
# on procedural pairs? Both are the ablation's "+ synthetic pairs" recipe (run-ablation.sh: same data
# split, settings, iterations and seed) and differ only in where the synthetic term's pairs come from:
#   procedural  rain drawn by the trainer over each clean crop (a fresh draw every iteration)
#   gr          derain-train --pairs: each image of the clean domain (the even-position clean-bsds
#               images, the shipped model's own clean domain) rained once by models/default.derain's
#               G_R, Rain200A-style: derain-rainmake --noise 0.1 --seed i --rain-reference real-rain
#               photo (i mod count), the photos in name order
# Each is scored on Rain12 and synthetic-val (neither seen in training) and, without reference, on
# real-rain/ and on rain-free photos (what it does to an image without rain). Steps already done in WORK_DIR (pairs, trained models) are not redone.
# Needs a built tree and the data folder. WORK_DIR must not be, contain or lie inside DATA_DIR.
#   usage: models/run-gr-pairs.sh [DATA_DIR] [WORK_DIR] [ITERATIONS] [THREADS]
#   DATA_DIR: holds clean-bsds/, real-rain/, rain12/, synthetic-val/   [default: ../shared/data]
#   WORK_DIR: data split, G_R pairs, training runs                      [default: build/gr-pairs]
#   ITERATIONS: per run                                                 [default: 4000]
#   THREADS: each training run's --threads (the runs are not bitwise alike across thread counts;
#            1 with PARALLEL=1 trains both at once, the way that stands up to other jobs best)
#                                                                       [default: 2]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-../shared/data}")
work=$(realpath -m "${2:-build/gr-pairs}")
iters=${3:-4000}
threads=${4:-2}
bin=build
[ -x $bin/training/derain-train ] || { echo "run-gr-pairs: build first (bash scripts/build.sh)" >&2; exit 1; }
source models/training-data.sh
# (refuses a work folder overlapping the data folder before writing anything)
prepare_training_data "$data" "$work" > /dev/null || { echo "run-gr-pairs: cannot prepare the data" >&2; exit 1; }
prepare_rain_free "$data" "$work"   # the damage column's photos (training-data.sh)

# The G_R pairs: rainy/NAME.png made from clean/NAME.jpg (a link to the decoded-as-is original; the
# trainer pairs files by name without the extension). Made in gr-pairs.tmp and renamed when complete.
if [ ! -d "$work/gr-pairs" ]; then
  rm -rf "$work/gr-pairs.tmp" && mkdir -p "$work/gr-pairs.tmp/rainy" "$work/gr-pairs.tmp/clean"
  mapfile -t refs < <(find "$data/real-rain" -maxdepth 1 -type f | LC_ALL=C sort)
  i=0
  while IFS= read -r name; do
    $bin/tools/derain-rainmake --model models/default.derain --input "$work/clean/$name" \
      --output "$work/gr-pairs.tmp/rainy/${name%.*}.png" --noise 0.1 --seed $i \
      --rain-reference "${refs[i % ${#refs[@]}]}" --threads 2 > /dev/null
    ln -s "$(readlink -f "$work/clean/$name")" "$work/gr-pairs.tmp/clean/$name"
    i=$((i + 1))
  done < <(ls "$work/clean" | LC_ALL=C sort)
  mv "$work/gr-pairs.tmp" "$work/gr-pairs"
fi

# The ablation's "+ synthetic pairs" row, every setting (run-ablation.sh).
common=(--rainy "$work/rainy" --clean "$work/clean" --preset lite --config "$work/synthetic.conf" --init he
        --iters "$iters" --crop 128 --lr 2e-4 --w-adv 0.2 --w-att 1 --w-cycle 0.5 --w-gmm 0 --w-rec 0
        --g-adversarial-scales sum --d-adversarial-scales sum --attention-prior on --seed 0 --threads "$threads"
        --sample-every 0 --w-identity 2 --w-synthetic 10)
declare -A extra=([procedural]="" [gr]="--pairs $work/gr-pairs")
declare -A names=([procedural]="procedural pairs (the ablation's + synthetic pairs row)"
                  [gr]="G_R pairs (default.derain, Rain200A-style, real-rain references)")
train() {
  # shellcheck disable=SC2086
  $bin/training/derain-train "${common[@]}" ${extra[$1]} --out "$work/$1" --force \
    --recipe "gr-pairs comparison: ${names[$1]}, $iters iterations" > "$work/$1.log" 2>&1
}
pids=()
for run in procedural gr; do
  [ -f "$work/$run/model.derain" ] && continue   # done in an earlier call
  if [ "${PARALLEL:-0}" = 1 ]; then train $run & pids+=($!); else train $run; fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

score() {  # model (or nothing: the rainy input) -> one table row's cells
  local model=() cells="" set line
  [ -n "${1:-}" ] && model=(--model "$1")
  for set in rain12 synthetic-val; do
    line=$($bin/tools/derain-eval --rainy "$data/$set/rainy" --clean "$data/$set/clean" "${model[@]}" --threads 2 2>/dev/null)
    cells+=" $(echo "$line" | awk '{print $3 " / " $6}') |"
  done
  # Real rain and rain-free photos, grey rain layer: mean channel shift, spread, changed share.
  for set in "$data/real-rain" "$work/rain-free"; do
    if [ -n "${1:-}" ]; then
      line=$($bin/tools/derain-eval --no-reference --rainy "$set" "${model[@]}" --threads 2 2>/dev/null)
      cells+=" $(echo "$line" | awk '{printf "%+.2f / %s / %s %%", ($4 + $6 + $8) / 3, $11, $18}') |"
    else
      cells+=" — |"
    fi
  done
  echo "$cells"
}
echo "| synthetic-pair term's pairs ($iters iterations, seed 0, $threads training thread(s)) | Rain12 PSNR / SSIM | synthetic-val PSNR / SSIM | real-rain: shift / spread / changed > 8 | rain-free: shift / spread / changed > 8 |"
echo "|---|---|---|---|---|"
echo "| rainy input |$(score)"
for run in procedural gr; do echo "| ${names[$run]} |$(score "$work/$run/model.derain")"; done
