// derain_pipeline: a small GStreamer application around the derain and rainmake elements.
//
// Decodes a video file, optionally adds procedural rain (rainmake: to try deraining on clean footage),
// derains it (derain) and writes either the derained video or the input and the derained video side
// by side (compositor). Errors from any element (a bad model file, an unknown container, ...) come
// from the bus and end the program with a message; Ctrl-C finishes the output file cleanly. The
// output is written to a temporary file beside it and renamed into place once the pipeline reached
// EOS, so a failed run leaves any previous file of that name intact; an OUTPUT that is INPUT is
// refused (libderain's CLI helpers, safe_output.hpp).
//
//   derain_pipeline --model lite.derain rainy.mkv derained.webm
//   derain_pipeline --compare --rain 0.08 clean.avi rain-then-derain.webm

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gst/gst.h>

#include "derain/error.hpp"
#include "safe_output.hpp"

namespace {

struct Options {
  std::string input;
  std::string output;
  std::string model;         // empty: the element's default (DERAIN_MODEL, else the installed model)
  double rain_density = 0;   // > 0: rainmake adds rain of this density before deraining
  guint64 seed = 0;          // rainmake seed
  double strength = 1.0;     // derain strength
  int threads = 0;           // derain threads, 0 = every core
  bool compare = false;      // input | derained side by side
};

void usage(FILE* out, const char* program) {
  std::fprintf(out,
      "Usage: %s [options] INPUT OUTPUT\n"
      "Derains the video file INPUT with the derain GStreamer element and writes OUTPUT.\n"
      "OUTPUT's extension picks the encoding: .webm (VP8/WebM), .mkv (VP8/Matroska), .avi (MJPEG/AVI).\n"
      "INPUT is anything decodebin can decode here (H.264 .mp4 needs gstreamer1.0-libav).\n"
      "Options:\n"
      "  --model PATH      libderain model file (default: $DERAIN_MODEL, else the installed default)\n"
      "  --compare         write the input (left) and the derained video (right) side by side\n"
      "  --rain DENSITY    first add procedural rain of this density (0..1, e.g. 0.08) with rainmake,\n"
      "                    to try deraining on clean footage\n"
      "  --seed N          seed of that rain (default 0; same seed, same rain)\n"
      "  --strength S      derain strength 0..1 (default 1; 0 = passthrough)\n"
      "  --threads N       network threads (default 0 = every core)\n"
      "  --help            this text\n"
      "The elements are found through GST_PLUGIN_PATH (e.g. build/gst-plugin) or the system plugin dir.\n",
      program);
}

bool parseDouble(const char* text, double min, double max, double& value) {
  char* end = nullptr;
  value = std::strtod(text, &end);
  return end != text && *end == '\0' && value >= min && value <= max;
}

bool parseArgs(int argc, char** argv, Options& options) {
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    // The value of a numeric option, checked against its range; complains and fails otherwise.
    auto number = [&](double min, double max, double& value) {
      if (i + 1 < argc && parseDouble(argv[i + 1], min, max, value)) {
        ++i;
        return true;
      }
      std::fprintf(stderr, "%s: %s needs a number in [%g, %g]\n", argv[0], arg.c_str(), min, max);
      return false;
    };
    double value = 0;
    if (arg == "--help" || arg == "-h") {
      usage(stdout, argv[0]);
      std::exit(0);
    } else if (arg == "--compare") {
      options.compare = true;
    } else if (arg == "--model") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: --model needs a path\n", argv[0]);
        return false;
      }
      options.model = argv[++i];
    } else if (arg == "--rain") {
      if (!number(0.0, 1.0, value)) return false;
      options.rain_density = value;
    } else if (arg == "--seed") {
      if (!number(0.0, 9.0e15, value)) return false;
      options.seed = static_cast<guint64>(value);
    } else if (arg == "--strength") {
      if (!number(0.0, 1.0, value)) return false;
      options.strength = value;
    } else if (arg == "--threads") {
      if (!number(0.0, 1024.0, value)) return false;
      options.threads = static_cast<int>(value);
    } else if (!arg.empty() && arg[0] != '-' && positional < 2) {
      (positional++ == 0 ? options.input : options.output) = arg;
    } else {
      std::fprintf(stderr, "%s: unknown or extra argument '%s'\n", argv[0], arg.c_str());
      return false;
    }
  }
  if (positional != 2) std::fprintf(stderr, "%s: INPUT and OUTPUT are required\n", argv[0]);
  return positional == 2;
}

// Encoder and muxer for the output file's extension; empty when the extension is not supported.
std::string encoderFor(const std::string& path) {
  auto ends_with = [&](const char* suffix) { return g_str_has_suffix(path.c_str(), suffix); };
  if (ends_with(".webm")) return "vp8enc deadline=1 ! webmmux";
  if (ends_with(".mkv")) return "vp8enc deadline=1 ! matroskamux";
  if (ends_with(".avi")) return "jpegenc ! avimux";
  return "";
}

// The launch description. Paths are set as properties afterwards, so they need no quoting here.
std::string describePipeline(const Options& options, const std::string& encoder) {
  std::string rain;
  if (options.rain_density > 0)
    rain = "rainmake name=rain density=" + std::to_string(options.rain_density) +
           " seed=" + std::to_string(options.seed) + " ! ";
  const std::string derain = "derain name=derain strength=" + std::to_string(options.strength) +
                             " threads=" + std::to_string(options.threads);
  const std::string head = "filesrc name=in ! decodebin ! videoconvert ! " + rain;
  const std::string tail = "videoconvert ! " + encoder + " ! filesink name=out";
  if (!options.compare) return head + derain + " ! " + tail;
  return head + "tee name=split "
         "split. ! queue ! videoconvert ! side.sink_0 "
         "split. ! queue ! " + derain + " ! videoconvert ! side.sink_1 "
         "compositor name=side ! " + tail;
}

// Puts the derained picture right of the input once its width is known (from its caps).
GstPadProbeReturn placeRightOfInput(GstPad*, GstPadProbeInfo* info, gpointer compositor_pad) {
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
    GstCaps* caps = nullptr;
    gst_event_parse_caps(event, &caps);
    int width = 0;
    if (gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &width))
      g_object_set(compositor_pad, "xpos", width, nullptr);
  }
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn countFrame(GstPad*, GstPadProbeInfo*, gpointer count) {
  ++*static_cast<guint64*>(count);
  return GST_PAD_PROBE_OK;
}

std::atomic<bool> interrupted{false};
void onInterrupt(int) { interrupted = true; }

// Prints an error or warning message from the bus; returns whether it was an error.
bool report(GstMessage* message) {
  GError* error = nullptr;
  gchar* debug = nullptr;
  const bool is_error = GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR;
  if (is_error) gst_message_parse_error(message, &error, &debug);
  else gst_message_parse_warning(message, &error, &debug);
  std::fprintf(stderr, "%s from %s: %s\n  (%s)\n", is_error ? "ERROR" : "WARNING",
               GST_OBJECT_NAME(GST_MESSAGE_SRC(message)), error->message, debug != nullptr ? debug : "no details");
  g_clear_error(&error);
  g_free(debug);
  return is_error;
}

// Runs the pipeline until EOS or an error; reports errors (and warnings) from the bus.
bool runToEos(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  const auto wanted = static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  bool ok = false;
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The element that failed has posted why; print that (and whatever else is pending) and stop.
    while (GstMessage* message = gst_bus_pop_filtered(bus, wanted)) {
      if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_EOS) report(message);
      gst_message_unref(message);
    }
    gst_object_unref(bus);
    return false;
  }
  bool running = true, eos_sent = false;
  while (running) {
    if (interrupted && !eos_sent) {
      std::fprintf(stderr, "interrupted: finishing the output file\n");
      gst_element_send_event(pipeline, gst_event_new_eos());
      eos_sent = true;
    }
    GstMessage* message = gst_bus_timed_pop_filtered(bus, 100 * GST_MSECOND, wanted);
    if (message == nullptr) continue;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
      ok = true;
      running = false;
    } else if (report(message)) {
      running = false;
    }
    gst_message_unref(message);
  }
  gst_object_unref(bus);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  Options options;
  if (!parseArgs(argc, argv, options)) {
    usage(stderr, argv[0]);
    return 2;
  }
  const std::string encoder = encoderFor(options.output);
  if (encoder.empty()) {
    std::fprintf(stderr, "%s: OUTPUT must end in .webm, .mkv or .avi: %s\n", argv[0], options.output.c_str());
    return 2;
  }
  try {
    derain::cli::refuseSameFile(options.input, options.output);
    derain::cli::checkWritableOutput(options.output);
  } catch (const derain::Error& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  for (const char* factory : {"derain", "rainmake"}) {
    GstElementFactory* found = gst_element_factory_find(factory);
    if (found == nullptr) {
      std::fprintf(stderr, "%s: no '%s' element: set GST_PLUGIN_PATH to the dir of libgstderain.so\n", argv[0],
                   factory);
      return 1;
    }
    gst_object_unref(found);
  }

  const std::string description = describePipeline(options, encoder);
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  if (pipeline == nullptr || error != nullptr) {
    std::fprintf(stderr, "%s: cannot build the pipeline: %s\n  %s\n", argv[0],
                 error != nullptr ? error->message : "unknown error", description.c_str());
    g_clear_error(&error);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    return 1;
  }
  GstBin* bin = GST_BIN(pipeline);
  GstElement* in = gst_bin_get_by_name(bin, "in");
  GstElement* out = gst_bin_get_by_name(bin, "out");
  GstElement* derain = gst_bin_get_by_name(bin, "derain");
  g_object_set(in, "location", options.input.c_str(), nullptr);
  derain::cli::PendingFile pending(options.output);  // removed unless the pipeline reaches EOS
  g_object_set(out, "location", pending.tempPath().c_str(), nullptr);
  if (!options.model.empty()) g_object_set(derain, "model", options.model.c_str(), nullptr);

  GstPad* derained = gst_element_get_static_pad(derain, "src");
  guint64 frames = 0;
  gst_pad_add_probe(derained, GST_PAD_PROBE_TYPE_BUFFER, countFrame, &frames, nullptr);
  GstPad* right = nullptr;
  if (options.compare) {
    GstElement* side = gst_bin_get_by_name(bin, "side");
    right = gst_element_get_static_pad(side, "sink_1");
    gst_pad_add_probe(derained, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, placeRightOfInput, right, nullptr);
    gst_object_unref(side);
  }

  std::signal(SIGINT, onInterrupt);
  std::fprintf(stderr, "pipeline: %s\n", description.c_str());
  const gint64 begin = g_get_monotonic_time();
  bool ok = runToEos(pipeline);
  const double seconds = static_cast<double>(g_get_monotonic_time() - begin) / G_USEC_PER_SEC;
  gst_element_set_state(pipeline, GST_STATE_NULL);  // filesink closes the temporary file
  if (ok) {
    try {
      pending.commit();
    } catch (const derain::Error& e) {
      std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
      ok = false;
    }
  }

  if (ok)
    std::fprintf(stderr, "wrote %s: %" G_GUINT64_FORMAT " frames derained in %.1f s (%.1f frames/s)\n",
                 options.output.c_str(), frames, seconds, seconds > 0 ? frames / seconds : 0.0);
  if (right != nullptr) gst_object_unref(right);
  gst_object_unref(derained);
  gst_object_unref(derain);
  gst_object_unref(out);
  gst_object_unref(in);
  gst_object_unref(pipeline);
  return ok ? 0 : 1;
}
