#!/bin/bash
# The figure of models/README.md ("Its rainmaking (G_R) against real rain"), docs/rainmaking-grid.png:
# clean | G_R, real-rain reference | G_R, own mask | procedural, for three
# images of the shipped model's clean domain (positions 1, 2, 4 of run-gr-pairs.sh's clean/, so the
# G_R column is that script's pair), and a row of real rain (the references of those rows and 1.jpg).
# 224x150 crops at full resolution, no scaling; 256 colours (keeps the file under 300 KB). Needs
# ImageMagick (convert, montage) and a built tree.
#   usage: models/make-rainmaking-grid.sh DATA_DIR WORK_DIR OUT.png   (WORK_DIR: of run-gr-pairs.sh, run first)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 DATA_DIR WORK_DIR OUT.png" >&2; exit 2; }
data=$(realpath -m "$1") work=$(realpath -m "$2") out=$(realpath -m "$3")
cd "$(dirname "$0")/.."
[ -d "$work/gr-pairs/rainy" ] || { echo "no $work/gr-pairs/rainy: run models/run-gr-pairs.sh first" >&2; exit 1; }
for input in "$data" "$work"; do  # the figure must not land among (or over) the images it is made from
  [[ "$out" == "$input"/* ]] && { echo "output '$out' lies inside the input folder '$input': refusing" >&2; exit 2; }
done
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
crop=224x150+128+85
mapfile -t names < <(ls "$work/clean" | LC_ALL=C sort)
mkdir -p "$tmp/picked"
tiles=()
for i in 1 2 4; do ln -s "$(readlink -f "$work/clean/${names[i]}")" "$tmp/picked/"; done
build/tools/derain-synth --clean "$tmp/picked" --out "$tmp/synth" --seed 7 > /dev/null 2>&1
for i in 1 2 4; do
  n=${names[i]} s=${names[i]%.*}
  build/tools/derain-rainmake --model models/default.derain --input "$work/clean/$n" --output "$tmp/own-$s.png" \
    --noise 0.1 --seed $i --threads 2 > /dev/null 2>&1
  convert "$work/clean/$n" -crop $crop +repage "$tmp/$i-a.png"
  convert "$work/gr-pairs/rainy/$s.png" -crop $crop +repage "$tmp/$i-b.png"
  convert "$tmp/own-$s.png" -crop $crop +repage "$tmp/$i-c.png"
  convert "$tmp/synth/rainy/$s.png" -crop $crop +repage "$tmp/$i-d.png"
  tiles+=(-label "clean $s" "$tmp/$i-a.png" -label "G_R, real-rain ref. (seed $i)" "$tmp/$i-b.png"
          -label "G_R, own mask (seed $i)" "$tmp/$i-c.png" -label "procedural (derain-synth)" "$tmp/$i-d.png")
done
for f in 10.jpg 100.jpg 102.jpg 1.jpg; do
  convert "$data/real-rain/$f" -gravity center -crop 224x150+0+0 +repage "$tmp/real-$f.png"
  tiles+=(-label "real rain $f" "$tmp/real-$f.png")
done
montage "${tiles[@]}" -tile 4x4 -geometry +3+3 -pointsize 11 -font DejaVu-Sans "$tmp/grid.png"
convert "$tmp/grid.png" +dither -colors 256 -strip -define png:compression-level=9 -define png:compression-filter=5 "PNG8:$out.tmp" && mv "$out.tmp" "$out"
