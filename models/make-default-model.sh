#!/bin/bash
# Rebuilds models/default.derain from the project's data, the way the shipped one was made
# (models/README.md). Needs a built tree (scripts/build.sh) and the data folder; about 1.5 hours on
# 2 CPU cores.
#   usage: models/make-default-model.sh [DATA_DIR] [WORK_DIR]
#   DATA_DIR: holds clean-bsds/, real-rain/, rain12/, synthetic-val/   [default: ../shared/data]
#   WORK_DIR: data split, training run and scores                       [default: build/default-model]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-../shared/data}")
work=$(realpath -m "${2:-build/default-model}")
bin=build
[ -x $bin/training/derain-train ] || { echo "make-default-model: build first (bash scripts/build.sh)" >&2; exit 1; }
source models/training-data.sh
prepare_training_data "$data" "$work" || { echo "make-default-model: cannot prepare the data" >&2; exit 1; }

# The scales and prior options are the settings the shipped model was trained with, before the paper
# preset's defaults became the reference code's (G finest scale, D mean, no prior); the lite preset
# keeps D's LeakyReLU slope 0.2.
resume=()
[ -f "$work/run/checkpoint.derain" ] && resume=(--resume)   # an interrupted run continues
if [ ${#resume[@]} -eq 0 ]; then
  $bin/training/derain-train --rainy "$work/rainy" --clean "$work/clean" --out "$work/run" --preset lite \
    --config "$work/synthetic.conf" --init he --iters 32000 --crop 128 --lr 2e-4 --w-adv 0.2 --w-att 1 \
    --w-cycle 0.5 --w-gmm 0 --w-rec 0 --w-identity 2 --w-synthetic 10 --threads 2 \
    --g-adversarial-scales sum --d-adversarial-scales sum --attention-prior on \
    --recipe "semi-supervised (synthetic pairs), shipped default at 32000 iterations"
else
  $bin/training/derain-train --rainy "$work/rainy" --clean "$work/clean" --out "$work/run" --resume --threads 2
fi

for set in rain12 synthetic-val; do
  [ -d "$data/$set" ] || continue
  echo "$set, rainy input: $($bin/tools/derain-eval --rainy "$data/$set/rainy" --clean "$data/$set/clean" 2>/dev/null)"
  echo "$set, derained:    $($bin/tools/derain-eval --rainy "$data/$set/rainy" --clean "$data/$set/clean" \
                              --model "$work/run/model.derain" 2>/dev/null)"
done
echo "model: $work/run/model.derain (copy it to models/default.derain to ship it)"
