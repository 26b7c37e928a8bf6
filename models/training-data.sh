# Sourced by make-default-model.sh, run-ablation.sh and run-gr-pairs.sh: the unpaired training folders
# the shipped model was trained on, made from the data folder, and the synthetic-pair term's rain
# settings; and the rain-free photos of the recipe comparisons.
#   prepare_training_data DATA_DIR WORK_DIR   -> WORK_DIR/{clean,rainy}/ and WORK_DIR/synthetic.conf
#   (and prepare_rain_free, prepare_storm_set below)
# Unpaired split of clean-bsds by name order: even positions are the clean domain, odd positions get
# procedural rain and, with the real rainy photos, form the rainy domain. No scene is in both.
# The work folder's subfolders are deleted and remade: it must not be, contain or lie inside the data.
#   refuse_overlap DATA_DIR WORK_DIR   -> status 1 (and a one-line error) when they overlap
refuse_overlap() {
  local d w
  d=$(realpath -m "$1")/ w=$(realpath -m "$2")/
  if [[ "$w" == "$d"* || "$d" == "$w"* ]]; then
    echo "work folder '$2' overlaps the data folder '$1': refusing to write there" >&2
    return 1
  fi
}

prepare_training_data() {
  local data=$1 work=$2 bin=build i=0 name f
  for folder in clean-bsds real-rain; do
    [ -d "$data/$folder" ] || { echo "no $data/$folder - nothing to do" >&2; return 1; }
  done
  refuse_overlap "$data" "$work" || return 1
  rm -rf "$work/clean" "$work/synth-src" "$work/synth" "$work/rainy"
  mkdir -p "$work/clean" "$work/synth-src" "$work/rainy"
  while IFS= read -r name; do
    if (( i % 2 == 0 )); then ln -s "$data/clean-bsds/$name" "$work/clean/$name"
    else ln -s "$data/clean-bsds/$name" "$work/synth-src/$name"; fi
    i=$((i + 1))
  done < <(ls "$data/clean-bsds" | LC_ALL=C sort)
  $bin/tools/derain-synth --clean "$work/synth-src" --out "$work/synth" --seed 7 --haze 0:0.08 --intensity 0.3:0.8
  for f in "$work"/synth/rainy/*; do ln -s "$f" "$work/rainy/"; done
  for f in "$data"/real-rain/*; do ln -s "$f" "$work/rainy/"; done

  # The synthetic-pair term's rain (training/README.md, "Beyond the paper").
  cat > "$work/synthetic.conf" <<'CONF'
train.synthetic.density = 0.01:0.15
train.synthetic.angle = -30:30
train.synthetic.angle_jitter = 2:8
train.synthetic.length = 8:60
train.synthetic.width = 0.6:2.2
train.synthetic.intensity = 0.2:0.9
train.synthetic.haze = 0:0
CONF
}

# Rain-free photos for the damage figures of run-ablation.sh and run-gr-pairs.sh: every 14th
# odd-indexed clean-bsds file (31 images), which the runs only ever see with rain drawn over them.
#   prepare_rain_free DATA_DIR WORK_DIR   -> WORK_DIR/rain-free/ (links)
prepare_rain_free() {
  local data=$1 work=$2 i=0 name
  rm -rf "$work/rain-free" && mkdir -p "$work/rain-free"
  while IFS= read -r name; do
    (( i % 14 == 1 )) && ln -s "$data/clean-bsds/$name" "$work/rain-free/$name"
    i=$((i + 1))
  done < <(ls "$data/clean-bsds" | LC_ALL=C sort)
}

# The storm set of run-ablation.sh: rain unlike the training renderer (derain-synth --style storm,
# seed 0) over the clean images of Rain12 and synthetic-val, which no training run sees (32 pairs).
#   prepare_storm_set DATA_DIR WORK_DIR   -> WORK_DIR/storm/{rainy,clean}/
prepare_storm_set() {
  local data=$1 work=$2 bin=build set f
  refuse_overlap "$data" "$work" || return 1
  rm -rf "$work/storm-src" "$work/storm" && mkdir -p "$work/storm-src"
  for set in rain12 synthetic-val; do
    for f in "$data/$set/clean"/*; do ln -s "$f" "$work/storm-src/$set-$(basename "$f")"; done
  done
  $bin/tools/derain-synth --clean "$work/storm-src" --out "$work/storm" --style storm --seed 0 > /dev/null
}
