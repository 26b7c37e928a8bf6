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
[ -r "$input" ] || { echo "$(basename "$0"): cannot read $input" >&2; exit 1; }
threads=${THREADS:-0}

case "$command" in
  derain)
    [ $# -eq 3 ] || { usage >&2; exit 2; }
    exec gst-launch-1.0 -e filesrc location="$input" ! decodebin ! videoconvert ! \
      derain threads="$threads" ! videoconvert ! vp8enc deadline=1 ! webmmux ! filesink location="$3"
    ;;
  compare)
    [ $# -eq 3 ] || { usage >&2; exit 2; }
    w=${WIDTH:-320} h=${HEIGHT:-240}
    exec gst-launch-1.0 -e filesrc location="$input" ! decodebin ! videoconvert ! videoscale ! \
      video/x-raw,width="$w",height="$h",pixel-aspect-ratio=1/1 ! tee name=split \
      split. ! queue ! videoconvert ! side.sink_0 \
      split. ! queue ! derain threads="$threads" ! videoconvert ! side.sink_1 \
      compositor name=side sink_1::xpos="$w" ! videoconvert ! vp8enc deadline=1 ! webmmux ! \
      filesink location="$3"
    ;;
  augment)
    [ $# -ge 3 ] && [ $# -le 4 ] || { usage >&2; exit 2; }
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
