#!/bin/bash
# The loss ablation of models/README.md: the lite model trained on the same data, for the same
# iterations and seed, with the paper's losses only, + the identity term, + the synthetic-pair term
# (the shipped recipe), each scored on Rain12, synthetic-val, a storm set (rain unlike the training
# renderer: derain-synth --style storm over the clean images of Rain12 and synthetic-val, which no run
# sees), real-rain/ (no reference, with the grey rain layer and with G_N's own colours) and rain-free
# photos (no reference); the shipped model (the last recipe, 16000 iterations) is scored alike. Runs already in WORK_DIR are not trained again.
# Needs a built tree and the data folder. WORK_DIR must not be, contain or lie inside DATA_DIR.
#   usage: models/run-ablation.sh [DATA_DIR] [WORK_DIR] [ITERATIONS]
#   DATA_DIR: holds clean-bsds/, real-rain/, rain12/, synthetic-val/   [default: ../shared/data]
#   WORK_DIR: data split, training runs and scores                      [default: build/ablation]
#   ITERATIONS: per recipe                                              [default: 4000]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-../shared/data}")
work=$(realpath -m "${2:-build/ablation}")
iters=${3:-4000}
bin=build
[ -x $bin/training/derain-train ] || { echo "run-ablation: build first (bash scripts/build.sh)" >&2; exit 1; }
source models/training-data.sh
prepare_training_data "$data" "$work" > /dev/null || { echo "run-ablation: cannot prepare the data" >&2; exit 1; }
prepare_rain_free "$data" "$work"   # the damage figures' photos (training-data.sh)
prepare_storm_set "$data" "$work"   # the storm set (training-data.sh)

# Everything but the two terms under test is the shipped recipe (make-default-model.sh).
common=(--rainy "$work/rainy" --clean "$work/clean" --preset lite --config "$work/synthetic.conf" --init he
        --iters "$iters" --crop 128 --lr 2e-4 --w-adv 0.2 --w-att 1 --w-cycle 0.5 --w-gmm 0 --w-rec 0
        --g-adversarial-scales sum --d-adversarial-scales sum --attention-prior on --seed 0 --threads 2
        --sample-every 0)
declare -A terms=([paper]="--w-identity 0 --w-synthetic 0" [identity]="--w-identity 2 --w-synthetic 0"
                  [synthetic]="--w-identity 2 --w-synthetic 10")
declare -A names=([paper]="paper losses only (adversarial, attention, cycle)" [identity]="+ identity (2)"
                  [synthetic]="+ synthetic pairs (10): the shipped recipe")
for recipe in paper identity synthetic; do
  [ -f "$work/$recipe/model.derain" ] && continue   # done in an earlier call
  # shellcheck disable=SC2086
  $bin/training/derain-train "${common[@]}" ${terms[$recipe]} --out "$work/$recipe" \
    --recipe "ablation: ${names[$recipe]}, $iters iterations" > "$work/$recipe.log" 2>&1
done

score() {  # model -> one table row's cells
  local model=$1 cells="" set line
  for set in "$data/rain12" "$data/synthetic-val" "$work/storm"; do
    line=$($bin/tools/derain-eval --rainy "$set/rainy" --clean "$set/clean" --model "$model" --threads 2 2>/dev/null)
    cells+=" $(echo "$line" | awk '{print $3 " / " $6}') |"
  done
  # Real rain and rain-free photos with the engines' default grey rain layer, then real rain with G_N's
  # own colours (--generator-colour: the model's tint). Each: mean channel shift, spread, changed share.
  for run in "$data/real-rain" "$work/rain-free" "$data/real-rain --generator-colour"; do
    # shellcheck disable=SC2086
    line=$($bin/tools/derain-eval --no-reference --rainy $run --model "$model" --threads 2 2>/dev/null)
    cells+=" $(echo "$line" | awk '{printf "%+.2f / %s / %s %%", ($4 + $6 + $8) / 3, $11, $18}') |"
  done
  echo "$cells"
}
echo "| recipe ($iters iterations, seed 0) | Rain12 PSNR / SSIM | synthetic-val PSNR / SSIM | storm PSNR / SSIM | real-rain: shift / spread / changed > 8 | rain-free: shift / spread / changed > 8 | real-rain, G_N's colours: shift / spread / changed > 8 |"
echo "|---|---|---|---|---|---|---|"
for recipe in paper identity synthetic; do echo "| ${names[$recipe]} |$(score "$work/$recipe/model.derain")"; done
echo "| shipped default.derain (the last recipe, 16000 iterations) |$(score models/default.derain)"
