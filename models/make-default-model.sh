#!/bin/bash
# Rebuilds models/default.derain from the project's data, the way the shipped one was made
# (models/README.md). Needs a built tree (scripts/build.sh) and the data folder; about 1 hour on
# 2 CPU cores.
#   usage: models/make-default-model.sh [DATA_DIR] [WORK_DIR]
#   DATA_DIR: holds clean-bsds/, real-rain/, rain12/, synthetic-val/   [default: ../shared/data]
#   WORK_DIR: data split, training run and scores                       [default: build/default-model]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath -m "${1:-../shared/data}")
work=$(realpath -m "${2:-build/default-model}")
bin=build
for folder in clean-bsds real-rain; do
  [ -d "$data/$folder" ] || { echo "make-default-model: no $data/$folder - nothing to do" >&2; exit 1; }
done
[ -x $bin/training/derain-train ] || { echo "make-default-model: build first (bash scripts/build.sh)" >&2; exit 1; }

# Unpaired split of clean-bsds by name order: even positions are the clean domain, odd positions get
# procedural rain and, with the real rainy photos, form the rainy domain. No scene is in both.
rm -rf "$work/clean" "$work/synth-src" "$work/synth" "$work/rainy"
mkdir -p "$work/clean" "$work/synth-src" "$work/rainy"
i=0
while IFS= read -r name; do
  if (( i % 2 == 0 )); then ln -s "$data/clean-bsds/$name" "$work/clean/$name"
  else ln -s "$data/clean-bsds/$name" "$work/synth-src/$name"; fi
  i=$((i + 1))
done < <(ls "$data/clean-bsds" | LC_ALL=C sort)
$bin/tools/derain-synth --clean "$work/synth-src" --out "$work/synth" --seed 7 --haze 0:0.08 --intensity 0.3:0.8
for f in "$work"/synth/rainy/*; do ln -s "$f" "$work/rainy/"; done
for f in "$data"/real-rain/*; do ln -s "$f" "$work/rainy/"; done

# The synthetic-pair term's rain (training/README.md, "Beyond the paper"). The scales and prior options
# are the settings the shipped model was trained with, before the paper preset's defaults became the
# reference code's (G finest scale, D mean, no prior); the lite preset keeps D's LeakyReLU slope 0.2.
cat > "$work/synthetic.conf" <<'CONF'
train.synthetic.density = 0.01:0.15
train.synthetic.angle = -30:30
train.synthetic.angle_jitter = 2:8
train.synthetic.length = 8:60
train.synthetic.width = 0.6:2.2
train.synthetic.intensity = 0.2:0.9
train.synthetic.haze = 0:0
CONF
resume=()
[ -f "$work/run/checkpoint.derain" ] && resume=(--resume)   # an interrupted run continues
if [ ${#resume[@]} -eq 0 ]; then
  $bin/training/derain-train --rainy "$work/rainy" --clean "$work/clean" --out "$work/run" --preset lite \
    --config "$work/synthetic.conf" --init he --iters 16000 --crop 128 --lr 2e-4 --w-adv 0.2 --w-att 1 \
    --w-cycle 0.5 --w-gmm 0 --w-rec 0 --w-identity 2 --w-synthetic 10 --threads 2 \
    --g-adversarial-scales sum --d-adversarial-scales sum --attention-prior on \
    --recipe "semi-supervised (synthetic pairs), shipped default"
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
