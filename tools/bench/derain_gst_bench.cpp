// derain-gst-bench: what the GStreamer element costs on top of libderain.
//
// For each frame size, the same frames go, one at a time, with the same model file and thread count:
//   engine:   straight through derain::Engine::derain;
//   pipeline: through `appsrc ! derain ! appsink` (push, wait for the output): what an application
//             sees, streaming-thread hand-offs included;
//   harness:  through the element alone (GstHarness, in the calling thread): the element's own cost.
// The paths take turns in short blocks (rotating who goes first) so that load from other processes
// hits all alike, while each keeps its calling thread (and thread pool) warm for a few frames.
// Prints, for each, the median and minimum wall-clock ms/frame and the median CPU ms/frame of the
// whole process (all its threads), with the overhead over the engine in %. On a machine shared with
// other work the CPU time is the steadiest figure: other processes' load barely changes it.
// The model is an untrained `lite` one: its weights do not matter for the cost.
//
// --live S instead plays, per size and for max-in-flight 1 and 2, the live pipeline of issue 12:
//   videotestsrc is-live=true ! <size> @ 25 fps ! derain ! fakesink sync=true max-lateness=20ms qos=true
// for S seconds and prints the frames rendered (reached the sink in time) out of the frames offered,
// and the latency the pipeline configured.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <opencv2/core.hpp>

#include <derain/derain.hpp>

#include "conv_ceiling.hpp"

namespace {

// Frames timed per method; the median and minimum are reported.
constexpr int kDefaultFrames = 40;
// Frames per block of one path before the next path's turn.
constexpr size_t kBlock = 5;
// How long to wait for one output frame before giving up (a failed pipeline never delivers).
constexpr GstClockTime kFrameTimeout = 60 * GST_SECOND;
// Frames run before timing (first inferences allocate and pick kernels).
constexpr int kWarmupFrames = 3;

struct Options {
  int frames = kDefaultFrames;
  int threads = 0;
  std::vector<cv::Size> sizes{{320, 240}, {640, 360}};
  int live_seconds = 0;  // > 0: the live-pipeline mode
  int live_streams = 1;  // live mode: cameras in the one pipeline (their derain elements share one engine)
  bool own_engines = false;  // live mode: each camera's derain element names its own model instance
  std::string precision;     // live mode: the derain elements' precision property; empty: its default
  int soak_frames = 0;   // > 0: the soak mode
  std::string model;     // empty: an untrained lite model
};

// Soak mode: resident memory sampled every this many frames.
constexpr int kSoakSampleEvery = 1000;

// Frame rate of the live source (a 25 fps camera).
constexpr int kLiveFps = 25;

void usage(FILE* out, const char* program) {
  std::fprintf(out,
      "Usage: %s [--frames N] [--threads T] [--size WxH]... [--model FILE] [--live SECONDS | --soak FRAMES]\n"
      "Cost per frame of the derain GStreamer element (in appsrc ! derain ! appsink, and alone in a\n"
      "GstHarness) vs derain::Engine::derain on the same frames (untrained lite model, RGB frames, one\n"
      "frame at a time).\n"
      "  --frames N   frames timed per path (default %d)\n"
      "  --threads T  network threads for both (default 0 = every core)\n"
      "  --size WxH   frame size; repeatable (default 320x240 and 640x360)\n"
      "  --model F    this model file instead of an untrained lite model\n"
      "  --live S     instead: a live 25 fps source into derain (max-in-flight 1, then 2) and a\n"
      "               synchronising sink with QoS for S seconds; frames rendered on time of those offered,\n"
      "               and of those the element can process in S s (the same pipeline, not live, unsynced)\n"
      "  --streams N  with --live: N such cameras in one pipeline, their derain elements sharing one\n"
      "               engine (same model and settings); totals over the N (default 1)\n"
      "  --own-engines with --streams: each element names its own model-instance-id, so the N run\n"
      "               their frames at the same time on engines of their own (give --threads 1 each)\n"
      "  --precision P with --live: the derain elements' precision (fp32, bf16, int8, auto; default: the\n"
      "               element's own default)\n"
      "  --soak N     instead: N frames through videotestsrc ! derain ! fakesink (max-in-flight 2), the\n"
      "               process's resident memory printed every 1000 frames (it must stay flat)\n"
      "  --help       this text\n"
      "The plugin is looked up in GST_PLUGIN_PATH, else in the build dir it was built in.\n",
      program, kDefaultFrames);
}

bool parseArgs(int argc, char** argv, Options& options) {
  bool sizes_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      usage(stdout, argv[0]);
      std::exit(0);
    } else if (arg == "--frames" && has_value) {
      options.frames = std::atoi(argv[++i]);
      if (options.frames < 1) return false;
    } else if (arg == "--live" && has_value) {
      options.live_seconds = std::atoi(argv[++i]);
      if (options.live_seconds < 1) return false;
    } else if (arg == "--streams" && has_value) {
      options.live_streams = std::atoi(argv[++i]);
      if (options.live_streams < 1 || options.live_streams > 16) return false;
    } else if (arg == "--own-engines") {
      options.own_engines = true;
    } else if (arg == "--precision" && has_value) {
      options.precision = argv[++i];
      try {
        derain::parsePrecision(options.precision);
      } catch (const std::exception&) {
        return false;
      }
    } else if (arg == "--soak" && has_value) {
      options.soak_frames = std::atoi(argv[++i]);
      if (options.soak_frames < 1) return false;
    } else if (arg == "--model" && has_value) {
      options.model = argv[++i];
    } else if (arg == "--threads" && has_value) {
      options.threads = std::atoi(argv[++i]);
      if (options.threads < 0) return false;
    } else if (arg == "--size" && has_value) {
      int w = 0, h = 0;
      if (std::sscanf(argv[++i], "%dx%d", &w, &h) != 2 || w < 1 || h < 1) return false;
      if (!sizes_given) options.sizes.clear();
      sizes_given = true;
      options.sizes.emplace_back(w, h);
    } else {
      return false;
    }
  }
  return true;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double nowMs() { return static_cast<double>(g_get_monotonic_time()) / 1000.0; }

// CPU time used so far by every thread of this process, in ms.
double cpuMs() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1000.0 + static_cast<double>(now.tv_nsec) / 1.0e6;
}

// appsrc ! derain ! appsink, playing, for frames of one size.
// A 30 fps buffer around the frame's memory (wrapped, not copied), stamped at next_pts, which advances.
GstBuffer* wrapFrame(const cv::Mat& frame, GstClockTime& next_pts) {
  const size_t bytes = frame.total() * frame.elemSize();
  GstBuffer* buffer = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, frame.data, bytes, 0, bytes, nullptr, nullptr);
  GST_BUFFER_PTS(buffer) = next_pts;
  GST_BUFFER_DURATION(buffer) = GST_SECOND / 30;
  next_pts += GST_SECOND / 30;
  return buffer;
}

class ElementPath {
 public:
  ElementPath(const std::string& model, cv::Size size, int threads) {
    gchar* description = g_strdup_printf(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! "
        "derain name=derain threads=%d temporal-window=0 ! appsink name=sink sync=false",
        size.width, size.height, threads);
    GError* error = nullptr;
    pipeline_ = gst_parse_launch(description, &error);
    g_free(description);
    if (pipeline_ == nullptr) {
      const std::string message = error != nullptr ? error->message : "unknown error";
      g_clear_error(&error);
      throw std::runtime_error("pipeline: " + message);
    }
    GstElement* derain = gst_bin_get_by_name(GST_BIN(pipeline_), "derain");
    g_object_set(derain, "model", model.c_str(), nullptr);
    gst_object_unref(derain);
    src_ = gst_bin_get_by_name(GST_BIN(pipeline_), "src");
    sink_ = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
    if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      throw std::runtime_error("pipeline does not start (is the derain plugin in GST_PLUGIN_PATH?)");
  }
  ~ElementPath() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(src_);
    gst_object_unref(sink_);
    gst_object_unref(pipeline_);
  }

  // One frame in, one frame out.
  void process(const cv::Mat& frame) {
    GstBuffer* buffer = wrapFrame(frame, next_pts_);
    if (gst_app_src_push_buffer(GST_APP_SRC(src_), buffer) != GST_FLOW_OK)
      throw std::runtime_error("appsrc refused a buffer");
    GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink_), kFrameTimeout);
    if (sample == nullptr) throw std::runtime_error("no output frame within a minute (pipeline error?)");
    gst_sample_unref(sample);
  }

 private:
  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;
  GstElement* sink_ = nullptr;
  GstClockTime next_pts_ = 0;
};

// The derain element alone in a GstHarness: buffers are pushed and pulled in the calling thread.
class HarnessPath {
 public:
  HarnessPath(const std::string& model, cv::Size size, int threads) {
    GstElement* derain = gst_element_factory_make("derain", nullptr);
    if (derain == nullptr) throw std::runtime_error("no derain element (is the plugin in GST_PLUGIN_PATH?)");
    gst_object_ref_sink(derain);
    // Frame by frame, like the Engine::derain it is compared with.
    g_object_set(derain, "model", model.c_str(), "threads", threads, "temporal-window", 0, nullptr);
    harness_ = gst_harness_new_with_element(derain, "sink", "src");
    gst_object_unref(derain);
    gchar* caps = g_strdup_printf("video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1", size.width,
                                  size.height);
    gst_harness_set_src_caps_str(harness_, caps);
    g_free(caps);
  }
  ~HarnessPath() { gst_harness_teardown(harness_); }

  void process(const cv::Mat& frame) {
    GstBuffer* buffer = wrapFrame(frame, next_pts_);
    GstBuffer* out = gst_harness_push_and_pull(harness_, buffer);
    if (out == nullptr) throw std::runtime_error("no output frame from the harness");
    gst_buffer_unref(out);
  }

 private:
  GstHarness* harness_ = nullptr;
  GstClockTime next_pts_ = 0;
};

// One way of deraining a frame, and the times it took.
struct Path {
  const char* name;
  std::function<void(const cv::Mat&)> process;
  std::vector<double> ms;      // wall clock
  std::vector<double> cpu_ms;  // CPU time of the process
};

void benchSize(const std::string& model, cv::Size size, const Options& options) {
  std::vector<cv::Mat> frames(static_cast<size_t>(options.frames));
  cv::RNG rng(static_cast<uint64_t>(size.area()));
  for (auto& frame : frames) {
    frame.create(size, CV_8UC3);
    rng.fill(frame, cv::RNG::UNIFORM, 0, 256);
  }

  derain::EngineOptions engine_options;
  engine_options.threads = options.threads;
  derain::Engine engine(model, engine_options);
  ElementPath pipeline(model, size, options.threads);
  HarnessPath harness(model, size, options.threads);
  cv::Mat out;
  std::vector<Path> paths{
      {"engine", [&](const cv::Mat& frame) { engine.derain(frame, out, derain::ColorOrder::RGB); }, {}, {}},
      {"pipeline", [&](const cv::Mat& frame) { pipeline.process(frame); }, {}, {}},
      {"harness", [&](const cv::Mat& frame) { harness.process(frame); }, {}, {}},
  };

  for (auto& path : paths)
    for (int i = 0; i < kWarmupFrames; ++i) path.process(frames[0]);

  for (size_t block = 0; block * kBlock < frames.size(); ++block) {
    const size_t begin = block * kBlock, end = std::min(frames.size(), begin + kBlock);
    for (size_t turn = 0; turn < paths.size(); ++turn) {
      Path& path = paths[(block + turn) % paths.size()];
      for (size_t i = begin; i < end; ++i) {
        const double start = nowMs(), cpu_start = cpuMs();
        path.process(frames[i]);
        path.cpu_ms.push_back(cpuMs() - cpu_start);
        path.ms.push_back(nowMs() - start);
      }
    }
  }

  const double engine_median = median(paths[0].ms), engine_cpu = median(paths[0].cpu_ms);
  const double engine_min = *std::min_element(paths[0].ms.begin(), paths[0].ms.end());
  auto percent = [](double value, double reference) { return 100.0 * (value - reference) / reference; };
  for (const auto& path : paths) {
    const double path_median = median(path.ms), path_cpu = median(path.cpu_ms);
    const double path_min = *std::min_element(path.ms.begin(), path.ms.end());
    std::printf("%4dx%-4d %-8s  wall median %7.2f ms (%+6.2f %%)  wall min %7.2f ms (%+6.2f %%)  "
                "cpu median %7.2f ms (%+6.2f %%)\n",
                size.width, size.height, path.name, path_median, percent(path_median, engine_median), path_min,
                percent(path_min, engine_min), path_cpu, percent(path_cpu, engine_cpu));
  }
  std::fflush(stdout);
}

struct LiveResult {
  int offered = 0;
  int rendered = 0;
  GstClockTime latency = GST_CLOCK_TIME_NONE;  // of the whole pipeline, as configured
};

void countRendered(GstElement*, GstBuffer*, GstPad*, gpointer count) { ++*static_cast<int*>(count); }

// Element names of branch i of a pipeline: "derain"/"sink" for the first, then "derain1"/"sink1", ...
std::string branchName(const char* base, int i) { return i == 0 ? base : base + std::to_string(i); }

// Parses `description` (freed here), a pipeline with `data.size()` branches, each a "derain" element and
// a fakesink "sink" that signals handoffs (names: branchName), sets every element's model and connects
// `on_handoff` to sink i with data[i]. Throws naming `what`.
GstElement* launchWithModel(const char* what, gchar* description, const std::string& model, GCallback on_handoff,
                            const std::vector<gpointer>& data) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description, &error);
  g_free(description);
  if (pipeline == nullptr) {
    const std::string message = error != nullptr ? error->message : "unknown error";
    g_clear_error(&error);
    throw std::runtime_error(std::string(what) + ": " + message);
  }
  for (size_t i = 0; i < data.size(); ++i) {
    GstElement* derain = gst_bin_get_by_name(GST_BIN(pipeline), branchName("derain", static_cast<int>(i)).c_str());
    g_object_set(derain, "model", model.c_str(), nullptr);
    gst_object_unref(derain);
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), branchName("sink", static_cast<int>(i)).c_str());
    g_signal_connect(sink, "handoff", on_handoff, data[i]);
    gst_object_unref(sink);
  }
  return pipeline;
}
GstElement* launchWithModel(const char* what, gchar* description, const std::string& model, GCallback on_handoff,
                            gpointer data) {
  return launchWithModel(what, description, model, on_handoff, std::vector<gpointer>{data});
}

// `streams` copies of a branch, gst-launch syntax: `format` has one %s for the branch's element names'
// suffix ("", "1", ...), e.g. "... ! derain name=derain%s ! fakesink name=sink%s".
gchar* branches(int streams, const std::string& format) {
  std::string all;
  for (int i = 0; i < streams; ++i) {
    const std::string suffix = i == 0 ? "" : std::to_string(i);
    std::string branch = format;
    for (size_t at; (at = branch.find("%s")) != std::string::npos;) branch.replace(at, 2, suffix);
    all += (i ? "  " : "") + branch;
  }
  return g_strdup(all.c_str());
}

// The live mode's settings of each derain element beyond threads and max-in-flight: its own
// model-instance-id (one per branch: its %s is the branch's suffix) and precision, where asked for.
std::string elementSettings(const Options& options) {
  std::string settings = options.own_engines ? " model-instance-id=stream%s" : "";
  if (!options.precision.empty()) settings += " precision=" + options.precision;
  return settings;
}

LiveResult liveRun(const std::string& model, cv::Size size, int threads, int max_in_flight, int seconds,
                   int streams, const std::string& settings) {
  LiveResult result;
  const int per_stream = seconds * kLiveFps;
  result.offered = per_stream * streams;
  gchar* description = branches(streams, cv::format(
      "videotestsrc is-live=true num-buffers=%d ! video/x-raw,format=RGB,width=%d,height=%d,framerate=%d/1 ! "
      "derain name=derain%%s%s threads=%d max-in-flight=%d ! "
      "fakesink name=sink%%s sync=true max-lateness=20000000 qos=true signal-handoffs=true",
      per_stream, size.width, size.height, kLiveFps, settings.c_str(), threads, max_in_flight));
  std::vector<int> rendered(streams, 0);
  std::vector<gpointer> counters;
  for (int& r : rendered) counters.push_back(&r);  // one counter per sink: each has its own thread
  GstElement* pipeline = launchWithModel("live pipeline", description, model, G_CALLBACK(countRendered), counters);

  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  std::string failure;
  const GstClockTime deadline = static_cast<GstClockTime>(3 * seconds + 60) * GST_SECOND;
  const gint64 give_up = g_get_monotonic_time() + static_cast<gint64>(deadline / GST_USECOND);
  GstMessage* message = nullptr;
  for (;;) {
    const gint64 left = give_up - g_get_monotonic_time();
    message = left <= 0 ? nullptr : gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(left) * GST_USECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_LATENCY));
    if (message == nullptr || GST_MESSAGE_TYPE(message) != GST_MESSAGE_LATENCY) break;
    // What gst-launch and any live application does: the element measured its latency.
    gst_message_unref(message);
    gst_bin_recalculate_latency(GST_BIN(pipeline));
  }
  if (message == nullptr) {
    failure = "no EOS in time";
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError* gerror = nullptr;
    gst_message_parse_error(message, &gerror, nullptr);
    failure = gerror->message;
    g_error_free(gerror);
  }
  if (message != nullptr) gst_message_unref(message);
  GstQuery* query = gst_query_new_latency();
  if (gst_element_query(pipeline, query)) gst_query_parse_latency(query, nullptr, &result.latency, nullptr);
  gst_query_unref(query);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  if (!failure.empty()) throw std::runtime_error("live pipeline: " + failure);
  for (const int r : rendered) result.rendered += r;
  return result;
}

// Plays a pipeline (taking ownership) until EOS or an error, then tears it down; false on an error.
bool playToEos(GstElement* pipeline) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE,
      static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  const bool ok = GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS;
  gst_message_unref(message);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return ok;
}

struct HandoffTimes {
  int frames = 0;
  double first_ms = 0, last_ms = 0;
};

void noteHandoff(GstElement*, GstBuffer*, GstPad*, gpointer data) {
  auto* times = static_cast<HandoffTimes*>(data);
  times->last_ms = nowMs();
  if (times->frames++ == 0) times->first_ms = times->last_ms;
}

// Frames per second the live pipeline's element gets through when nothing waits for the clock: the
// same source, element and sink, not live and unsynchronised (model loading excluded: timed from the
// first frame out to the last).
double capacityFps(const std::string& model, cv::Size size, int threads, int max_in_flight, int frames, int streams,
                   const std::string& settings) {
  gchar* description = branches(streams, cv::format(
      "videotestsrc num-buffers=%d ! video/x-raw,format=RGB,width=%d,height=%d,framerate=%d/1 ! "
      "derain name=derain%%s%s threads=%d max-in-flight=%d ! fakesink name=sink%%s sync=false signal-handoffs=true",
      frames, size.width, size.height, kLiveFps, settings.c_str(), threads, max_in_flight));
  std::vector<HandoffTimes> times(streams);
  std::vector<gpointer> data;
  for (HandoffTimes& t : times) data.push_back(&t);
  GstElement* pipeline = launchWithModel("capacity pipeline", description, model, G_CALLBACK(noteHandoff), data);
  const bool failed = !playToEos(pipeline);
  // Total: every stream's frames over the span from the first frame out of any to the last.
  int total = 0;
  double first = 1e300, last = 0;
  for (const HandoffTimes& t : times) {
    if (t.frames < 2) throw std::runtime_error("capacity pipeline failed");
    total += t.frames;
    first = std::min(first, t.first_ms);
    last = std::max(last, t.last_ms);
  }
  if (failed) throw std::runtime_error("capacity pipeline failed");
  return 1000.0 * (total - streams) / (last - first);
}

void liveSize(const std::string& model, cv::Size size, const Options& options) {
  for (const int max_in_flight : {1, 2}) {
    const int streams = options.live_streams;
    const std::string settings = elementSettings(options);
    const LiveResult r = liveRun(model, size, options.threads, max_in_flight, options.live_seconds, streams, settings);
    const double fps = capacityFps(model, size, options.threads, max_in_flight, std::min(r.offered / streams, 100),
                                   streams, settings);
    const double can = std::min(static_cast<double>(r.offered), fps * options.live_seconds);
    std::printf("%4dx%-4d live %d fps %d s %d stream(s)%s  max-in-flight %d  rendered on time %4d of %4d (%5.1f %%); "
                "the element%s alone do%s %.1f fps = %.0f frames in that time: %.2fx of it  pipeline latency %.1f ms\n",
                size.width, size.height, kLiveFps, options.live_seconds, streams,
                options.own_engines ? " (own engines)" : "", max_in_flight, r.rendered, r.offered,
                100.0 * r.rendered / r.offered, streams > 1 ? "s" : "", streams > 1 ? "" : "es", fps, can,
                r.rendered / can,
                GST_CLOCK_TIME_IS_VALID(r.latency) ? static_cast<double>(r.latency) / GST_MSECOND : -1.0);
    std::fflush(stdout);
  }
}

// Resident set size of this process now, in MB (Linux VmRSS).
double residentMb() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, status) != nullptr)
    if (std::sscanf(line, "VmRSS: %lf kB", &kb) == 1) break;
  std::fclose(status);
  return kb / 1024.0;
}

struct SoakState {
  int frames = 0;
  double started_ms = 0;
};

void soakHandoff(GstElement*, GstBuffer*, GstPad*, gpointer data) {
  auto* state = static_cast<SoakState*>(data);
  if (++state->frames % kSoakSampleEvery == 0) {
    std::printf("soak: %6d frames  rss %7.1f MB  %.1f ms/frame\n", state->frames, residentMb(),
                (nowMs() - state->started_ms) / state->frames);
    std::fflush(stdout);
  }
}

void soakSize(const std::string& model, cv::Size size, const Options& options) {
  gchar* description = g_strdup_printf(
      "videotestsrc num-buffers=%d pattern=ball ! video/x-raw,format=RGB,width=%d,height=%d ! "
      "derain name=derain threads=%d max-in-flight=2 ! fakesink name=sink sync=false signal-handoffs=true",
      options.soak_frames, size.width, size.height, options.threads);
  SoakState state;
  state.started_ms = nowMs();
  GstElement* pipeline = launchWithModel("soak pipeline", description, model, G_CALLBACK(soakHandoff), &state);
  std::printf("soak: %dx%d, %d frames, rss at start %.1f MB\n", size.width, size.height, options.soak_frames,
              residentMb());
  const bool failed = !playToEos(pipeline);
  if (failed) throw std::runtime_error("soak pipeline posted an error");
  std::printf("soak: done, %d frames out, rss at end %.1f MB\n", state.frames, residentMb());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parseArgs(argc, argv, options)) {
    usage(stderr, argv[0]);
    return 2;
  }
#ifdef DERAIN_GST_PLUGIN_DIR
  if (g_getenv("GST_PLUGIN_PATH") == nullptr) g_setenv("GST_PLUGIN_PATH", DERAIN_GST_PLUGIN_DIR, TRUE);
#endif
  gst_init(&argc, &argv);

  gchar* dir = g_dir_make_tmp("derain-gst-bench-XXXXXX", nullptr);
  const std::string untrained = std::string(dir) + "/lite-untrained.derain";
  const std::string model = options.model.empty() ? untrained : options.model;
  const std::string model_name = options.model.empty() ? "untrained lite model" : "model " + options.model;
  int status = 0;
  try {
    derain::EngineOptions engine_options;
    engine_options.threads = options.threads;
    if (options.model.empty()) derain::Engine::untrained(derain::ModelConfig::lite(), 1, engine_options).save(untrained);
    // Every speed figure next to the machine's ceiling, measured in the same run.
    const int ceiling_threads = options.threads > 0 ? options.threads : derain::runtimeThreads();
    std::printf("%s\n", derain::bench::ceilingLine(derain::Precision::FP32,
        derain::bench::convCeilingGflops(derain::Precision::FP32, ceiling_threads), ceiling_threads).c_str());
    // The bf16 ceiling too where the elements may run bf16 (asked for, or auto on a CPU that has it).
    const auto precision = options.precision.empty() ? derain::EngineOptions{}.precision
                                                     : derain::parsePrecision(options.precision);
    if (precision == derain::Precision::BF16 || (precision == derain::Precision::Auto && derain::cpuHasNativeBf16()))
      std::printf("%s\n", derain::bench::ceilingLine(derain::Precision::BF16,
          derain::bench::convCeilingGflops(derain::Precision::BF16, ceiling_threads), ceiling_threads).c_str());
    if (options.soak_frames > 0) {
      for (const auto& size : options.sizes) soakSize(model, size, options);
    } else if (options.live_seconds > 0) {
      std::printf("derain-gst-bench --live: %s, %d network threads (0 = all), precision %s, element defaults "
                  "otherwise\n", model_name.c_str(), options.threads,
                  options.precision.empty() ? "(the element's default)" : options.precision.c_str());
      for (const auto& size : options.sizes) liveSize(model, size, options);
    } else {
      std::printf("derain-gst-bench: %s, %d network threads (0 = all), %d frames per path; "
                  "%% = overhead over the engine\n", model_name.c_str(), options.threads, options.frames);
      for (const auto& size : options.sizes) benchSize(model, size, options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "derain-gst-bench: %s\n", e.what());
    status = 1;
  }
  g_unlink(untrained.c_str());
  g_rmdir(dir);
  g_free(dir);
  return status;
}
