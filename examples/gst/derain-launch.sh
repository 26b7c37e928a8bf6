#!/usr/bin/env bash
# Ready-made gst-launch-1.0 pipelines with the derain and rainmake elements, for your own files.
# The model comes from $DERAIN_MODEL (or the installed default); the plugin from the system plugin dir
# or $GST_PLUGIN_PATH (e.g. GST_PLUGIN_PATH=build/gst-plugin for an uninstalled build).
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0") COMMAND ARGS...
  derain  INPUT OUTPUT.webm        derain a video file, write VP8 in WebM
  compare INPUT OUTPUT.webm        input | derained side by side (compositor), scaled to \$WIDTH x \$HEIGHT each
  augment INPUT OUTDIR [SEED]      add procedural rain to clean footage, write OUTDIR/rainy-00000.jpg, ...
  show    INPUT                    derain and display in a window
INPUT: any file decodebin can decode (H.264 .mp4 needs the gstreamer1.0-libav package).
Environment: DERAIN_MODEL (model file), THREADS (network threads, default 0 = all cores),
  WIDTH / HEIGHT (compare: size of each half, default 320 x 240),
  DENSITY / ANGLE (augment: rain density 0..1, default 0.08; angle in degrees, default 10).
USAGE
}

[ $# -ge 2 ] || { usage >&2; exit 2; }
command=$1 input=$2
case "$command" in derain|compare|augment|show) ;; *) usage >&2; exit 2 ;; esac
me=$(basename "$0")
[ -r "$input" ] || { echo "$me: cannot read $input" >&2; exit 1; }
threads=${THREADS:-0}

# Nothing lost: the video is written to a temporary file beside OUTPUT and renamed into place when
# gst-launch-1.0 ends well (with -e, Ctrl-C finishes the file first); a failed run removes it and
# leaves any previous OUTPUT intact. An OUTPUT that is INPUT (any spelling, or a link) is refused.
pending_output() {
  out=$1
  if [ "$input" -ef "$out" ] || [ "$(realpath -m -- "$input")" = "$(realpath -m -- "$out")" ]; then
    echo "$me: refusing to write $out: it is the input $input (choose another output)" >&2
    exit 1
  fi
  local dir base
  dir=$(dirname -- "$out") base=$(basename -- "$out")
  [ -d "$dir" ] && [ -w "$dir" ] || { echo "$me: cannot write $out: folder $dir is missing or not writable" >&2; exit 1; }
  tmp="$dir/.$base.part-$$.${base##*.}"
  trap 'rm -f -- "$tmp"' EXIT
}

case "$command" in
  derain)
    [ $# -eq 3 ] || { usage >&2; exit 2; }
    pending_output "$3"
    gst-launch-1.0 -e filesrc location="$input" ! decodebin ! videoconvert ! \
      derain threads="$threads" ! videoconvert ! vp8enc deadline=1 ! webmmux ! filesink location="$tmp"
    mv -f -- "$tmp" "$out"
    ;;
  compare)
    [ $# -eq 3 ] || { usage >&2; exit 2; }
    w=${WIDTH:-320} h=${HEIGHT:-240}
    pending_output "$3"
    gst-launch-1.0 -e filesrc location="$input" ! decodebin ! videoconvert ! videoscale ! \
      video/x-raw,width="$w",height="$h",pixel-aspect-ratio=1/1 ! tee name=split \
      split. ! queue ! videoconvert ! side.sink_0 \
      split. ! queue ! derain threads="$threads" ! videoconvert ! side.sink_1 \
      compositor name=side sink_1::xpos="$w" ! videoconvert ! vp8enc deadline=1 ! webmmux ! \
      filesink location="$tmp"
    mv -f -- "$tmp" "$out"
    ;;
  augment)
    [ $# -ge 3 ] && [ $# -le 4 ] || { usage >&2; exit 2; }
    # One file per frame: the input may not live among them.
    if [ "$(realpath -m -- "$(dirname -- "$input")")" = "$(realpath -m -- "$3")" ]; then
      echo "$me: refusing to write into $3: it is the folder of the input $input (choose another folder)" >&2
      exit 1
    fi
    mkdir -p "$3"
    exec gst-launch-1.0 -e filesrc location="$input" ! decodebin ! videoconvert ! \
      rainmake seed="${4:-0}" density="${DENSITY:-0.08}" angle="${ANGLE:-10}" ! videoconvert ! \
      jpegenc quality=95 ! multifilesink location="$3/rainy-%05d.jpg"
    ;;
  show)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    exec gst-launch-1.0 filesrc location="$input" ! decodebin ! videoconvert ! \
      derain threads="$threads" ! videoconvert ! autovideosink
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
