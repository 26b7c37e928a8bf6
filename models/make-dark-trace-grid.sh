#!/bin/bash
# The figure of models/README.md ("Dark traces and the bounded rain layer"), docs/dark-trace-grid.png:
# real rain | derained, unbounded grey layer (--unbounded-rain) | derained, bounded (the default), for
# the four real-rain/ photos and 160x120 windows where the unbounded layer dug deepest below the row
# background (mean depth beyond 2 levels under the darkest input pixel within 3 pixels in the row;
# found once over all 147 photos with a throwaway program, listed here so the figure is reproducible).
# Crops shown at 2x (pixel replication); 256 colours. Needs ImageMagick (convert, montage) and a built tree.
#   usage: models/make-dark-trace-grid.sh DATA_DIR OUT.png
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 DATA_DIR OUT.png" >&2; exit 2; }
data=$(realpath -m "$1") out=$(realpath -m "$2")
cd "$(dirname "$0")/.."
[[ "$out" == "$data"/* ]] && { echo "output '$out' lies inside the input folder '$data': refusing" >&2; exit 2; }
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
tiles=()
for spec in "146 +760+944" "130 +368+72" "144 +280+16" "86 +672+264"; do
  read -r photo offset <<< "$spec"
  input="$data/real-rain/$photo.jpg"
  for mode in unbounded bounded; do
    flag=() && [ $mode = unbounded ] && flag=(--unbounded-rain)
    build/tools/derain-run --model models/default.derain --input "$input" --output "$tmp/$photo-$mode.png" \
      --threads 2 "${flag[@]}" > /dev/null 2>&1
  done
  convert "$input" -crop "160x120$offset" +repage -scale 200% "$tmp/$photo-a.png"
  convert "$tmp/$photo-unbounded.png" -crop "160x120$offset" +repage -scale 200% "$tmp/$photo-b.png"
  convert "$tmp/$photo-bounded.png" -crop "160x120$offset" +repage -scale 200% "$tmp/$photo-c.png"
  tiles+=(-label "real rain $photo.jpg" "$tmp/$photo-a.png" -label "derained, unbounded layer" "$tmp/$photo-b.png"
          -label "derained, bounded (default)" "$tmp/$photo-c.png")
done
montage "${tiles[@]}" -tile 3x4 -geometry +3+3 -pointsize 12 -font DejaVu-Sans "$tmp/grid.png"
convert "$tmp/grid.png" +dither -colors 256 -strip -define png:compression-level=9 -define png:compression-filter=5 "PNG8:$out.tmp" && mv "$out.tmp" "$out"
