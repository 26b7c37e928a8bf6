/* derain: rain removal for live video with libderain.
 *
 * SPDX-License-Identifier: MIT
 */

/**
 * SECTION:element-derain
 * @title: derain
 * @see_also: rainmake
 *
 * Removes rain streaks from video with a DerainCycleGAN model: every frame goes through the
 * model's attention network (U-ARSE, which finds the streaks) and its deraining generator G_N.
 * The model is a libderain model file (as written by libderain's trainer or
 * derain::Engine::save()); without the #GstDerain:model property the file named by the
 * `DERAIN_MODEL` environment variable is used, else the installed default model.
 *
 * If no model can be found, or the file is corrupt, the change to PAUSED fails with a
 * RESOURCE/NOT_FOUND or LIBRARY/INIT error that names the file. The element never falls back to
 * an untrained model on its own: a surveillance pipeline that silently outputs garbage is worse
 * than one that does not start.
 *
 * #GstDerain:device=cuda on a machine or build without CUDA fails the same way (LIBRARY/INIT);
 * use device=auto to take the GPU only when there is one. A failure while processing a frame posts
 * STREAM/FAILED and stops the stream.
 *
 * Frames are packed 8-bit RGB, BGR, RGBA, BGRA, RGBx or BGRx of any size (odd ones too); the
 * network sees the three colour channels and a 4th byte (alpha or padding) passes through unchanged.
 *
 * #GstDerain:strength blends the derained frame with the input; at 0 the element is in passthrough
 * (bit-exact input, no inference). Strength is controllable (#GstController), so it can be faded.
 *
 * QoS is on: frames that would arrive too late at a synchronising sink are dropped before the
 * network runs, so a live source does not pile up latency when the CPU cannot keep up. The element
 * reports its processing time as latency: one frame through the network, timed on a blank frame
 * of the negotiated size when caps are set (after a first one that warms the engine up), and raised
 * with a latency message if frames later take more than 1.5 times that on average.
 *
 * Only #GstDerain:strength takes effect while playing; the other properties are read when the
 * element goes from READY to PAUSED.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=rainy.mkv ! decodebin ! videoconvert ! \
 *     derain model=lite.derain ! videoconvert ! autovideosink
 * ]| Derains a video file and shows it.
 * |[
 * gst-launch-1.0 filesrc location=rainy.mkv ! decodebin ! videoconvert ! derain threads=4 ! \
 *     videoconvert ! vp8enc ! webmmux ! filesink location=derained.webm
 * ]| Derains with the default model on 4 threads and writes a WebM file.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! derain strength=0.7 ! videoconvert ! autovideosink
 * ]| Live camera, derained output blended 70 / 30 with the input.
 */

#include "gstderain.h"

#include <algorithm>
#include <exception>
#include <memory>

#include <opencv2/core.hpp>

#include <derain/engine_options.hpp>
#include <derain/inference_library.hpp>

#include "engine_open.h"
#include "gstderainenums.h"
#include "video_frame_mat.h"

GST_DEBUG_CATEGORY_STATIC(gst_derain_debug);
#define GST_CAT_DEFAULT gst_derain_debug

#define DEFAULT_PROP_MODEL nullptr
#define DEFAULT_PROP_DEVICE GST_DERAIN_DEVICE_AUTO
#define DEFAULT_PROP_PRECISION GST_DERAIN_PRECISION_FP32
#define DEFAULT_PROP_TILE_SIZE 0
#define DEFAULT_PROP_TILE_OVERLAP derain::kDefaultTileOverlap
#define DEFAULT_PROP_THREADS 0
#define DEFAULT_PROP_STRENGTH 1.0

// Largest accepted tile side / overlap / thread count: libderain's own ranges (engine_options.hpp).
#define MAX_TILE_SIZE derain::kMaxTileSize
#define MAX_TILE_OVERLAP derain::kMaxTileOverlap
#define MAX_THREADS derain::kMaxThreads

// Average frame time (exponential moving average weight of the newest frame) and how far it may
// exceed the reported latency before the latency is raised.
#define FRAME_TIME_AVERAGE_WEIGHT 0.1
#define LATENCY_RAISE_FACTOR 1.5

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_TILE_SIZE,
  PROP_TILE_OVERLAP,
  PROP_THREADS,
  PROP_STRENGTH,
};

// What exists between start() and stop(): the engine and per-frame scratch images (reused so the
// streaming thread does not allocate per frame).
struct DerainStream {
  std::shared_ptr<derain::SharedEngine> engine;
  cv::Mat packed;    // input colour channels when the frame is not already packed 3-channel
  cv::Mat derained;  // network output
  cv::Mat blended;   // output blended with the input (strength < 1)
  double average_frame_ns = 0.0;
};

struct _GstDerain {
  GstVideoFilter videofilter;

  /* properties, guarded by the object lock */
  gchar* model;
  GstDerainDevice device;
  GstDerainPrecision precision;
  gint tile_size;
  gint tile_overlap;
  gint threads;
  gdouble strength;

  /* latency answered to LATENCY queries, guarded by the object lock */
  GstClockTime latency;

  /* created in start(), destroyed in stop(); used by the streaming thread only */
  DerainStream* stream;
};

static GstStaticPadTemplate gst_derain_sink_template = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DERAIN_GST_FORMATS)));

static GstStaticPadTemplate gst_derain_src_template = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DERAIN_GST_FORMATS)));

#define gst_derain_parent_class parent_class
G_DEFINE_TYPE(GstDerain, gst_derain, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(derain, "derain", GST_RANK_NONE, GST_TYPE_DERAIN,
    GST_DEBUG_CATEGORY_INIT(gst_derain_debug, "derain", 0, "derain: rain removal with libderain"));

static void gst_derain_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_derain_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_derain_finalize(GObject* object);
static gboolean gst_derain_start(GstBaseTransform* trans);
static gboolean gst_derain_stop(GstBaseTransform* trans);
static gboolean gst_derain_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query);
static void gst_derain_before_transform(GstBaseTransform* trans, GstBuffer* buffer);
static gboolean gst_derain_set_info(GstVideoFilter* filter, GstCaps* incaps, GstVideoInfo* in_info,
    GstCaps* outcaps, GstVideoInfo* out_info);
static GstFlowReturn gst_derain_transform_frame(GstVideoFilter* filter, GstVideoFrame* in_frame,
    GstVideoFrame* out_frame);

static void gst_derain_class_init(GstDerainClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_derain_set_property;
  gobject_class->get_property = gst_derain_get_property;
  gobject_class->finalize = gst_derain_finalize;

  const auto ready_flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                    GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model file",
          "libderain model file to load; unset = $DERAIN_MODEL, else the installed default model "
          "(no model at all makes the change to PAUSED fail)",
          DEFAULT_PROP_MODEL, ready_flags));
  g_object_class_install_property(gobject_class, PROP_DEVICE,
      g_param_spec_enum("device", "Device",
          "Where the network runs; cuda fails to start when CUDA is unavailable",
          GST_TYPE_DERAIN_DEVICE, DEFAULT_PROP_DEVICE, ready_flags));
  g_object_class_install_property(gobject_class, PROP_PRECISION,
      g_param_spec_enum("precision", "Precision", "Arithmetic of the network",
          GST_TYPE_DERAIN_PRECISION, DEFAULT_PROP_PRECISION, ready_flags));
  g_object_class_install_property(gobject_class, PROP_TILE_SIZE,
      g_param_spec_int("tile-size", "Tile size",
          "Process frames in square tiles of this side (bounds memory on large frames); "
          "0 = automatic (whole frame up to 1920x1088 pixels, 768-pixel tiles above)",
          0, MAX_TILE_SIZE, DEFAULT_PROP_TILE_SIZE, ready_flags));
  g_object_class_install_property(gobject_class, PROP_TILE_OVERLAP,
      g_param_spec_int("tile-overlap", "Tile overlap",
          "Pixels shared by neighbouring tiles, blended linearly to hide seams",
          0, MAX_TILE_OVERLAP, DEFAULT_PROP_TILE_OVERLAP, ready_flags));
  g_object_class_install_property(gobject_class, PROP_THREADS,
      g_param_spec_int("threads", "Threads", "CPU threads of the network; 0 = every core",
          0, MAX_THREADS, DEFAULT_PROP_THREADS, ready_flags));
  g_object_class_install_property(gobject_class, PROP_STRENGTH,
      g_param_spec_double("strength", "Strength",
          "Blend of the derained frame with the input: 1 = derained only, 0 = input unchanged "
          "(passthrough, no inference)",
          0.0, 1.0, DEFAULT_PROP_STRENGTH,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                   GST_PARAM_MUTABLE_PLAYING | GST_PARAM_CONTROLLABLE)));

  gst_element_class_set_static_metadata(element_class, "Rain removal", "Filter/Effect/Video",
      "Removes rain streaks from video with a DerainCycleGAN model (libderain)",
      "libderain developers");
  gst_element_class_add_static_pad_template(element_class, &gst_derain_sink_template);
  gst_element_class_add_static_pad_template(element_class, &gst_derain_src_template);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_derain_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_derain_stop);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_derain_query);
  trans_class->before_transform = GST_DEBUG_FUNCPTR(gst_derain_before_transform);
  filter_class->set_info = GST_DEBUG_FUNCPTR(gst_derain_set_info);
  filter_class->transform_frame = GST_DEBUG_FUNCPTR(gst_derain_transform_frame);

  gst_type_mark_as_plugin_api(GST_TYPE_DERAIN_DEVICE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_DERAIN_PRECISION, static_cast<GstPluginAPIFlags>(0));
}

static void gst_derain_init(GstDerain* self) {
  self->model = g_strdup(DEFAULT_PROP_MODEL);
  self->device = DEFAULT_PROP_DEVICE;
  self->precision = DEFAULT_PROP_PRECISION;
  self->tile_size = DEFAULT_PROP_TILE_SIZE;
  self->tile_overlap = DEFAULT_PROP_TILE_OVERLAP;
  self->threads = DEFAULT_PROP_THREADS;
  self->strength = DEFAULT_PROP_STRENGTH;
  self->latency = 0;
  self->stream = nullptr;
  // Late frames are dropped before the (expensive) network runs.
  gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_derain_finalize(GObject* object) {
  GstDerain* self = GST_DERAIN(object);
  delete self->stream;
  self->stream = nullptr;
  g_free(self->model);
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

// Passthrough exactly when strength is 0: the input buffer goes on untouched, the network idles.
static void gst_derain_update_passthrough(GstDerain* self) {
  GST_OBJECT_LOCK(self);
  const gboolean passthrough = self->strength <= 0.0;
  GST_OBJECT_UNLOCK(self);
  GstBaseTransform* trans = GST_BASE_TRANSFORM(self);
  if (passthrough != gst_base_transform_is_passthrough(trans)) {
    GST_DEBUG_OBJECT(self, "passthrough %s", passthrough ? "on" : "off");
    gst_base_transform_set_passthrough(trans, passthrough);
    gst_base_transform_reconfigure_src(trans);  // output buffers are needed again (or no longer)
  }
}

static void gst_derain_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstDerain* self = GST_DERAIN(object);

  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_DEVICE:
      self->device = static_cast<GstDerainDevice>(g_value_get_enum(value));
      break;
    case PROP_PRECISION:
      self->precision = static_cast<GstDerainPrecision>(g_value_get_enum(value));
      break;
    case PROP_TILE_SIZE:
      self->tile_size = g_value_get_int(value);
      break;
    case PROP_TILE_OVERLAP:
      self->tile_overlap = g_value_get_int(value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int(value);
      break;
    case PROP_STRENGTH:
      self->strength = g_value_get_double(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  const gboolean started = GST_STATE(self) > GST_STATE_READY;
  GST_OBJECT_UNLOCK(self);

  if (prop_id == PROP_STRENGTH)
    gst_derain_update_passthrough(self);
  else if (started)
    GST_WARNING_OBJECT(self, "'%s' takes effect at the next change from READY to PAUSED", pspec->name);
}

static void gst_derain_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstDerain* self = GST_DERAIN(object);

  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string(value, self->model);
      break;
    case PROP_DEVICE:
      g_value_set_enum(value, self->device);
      break;
    case PROP_PRECISION:
      g_value_set_enum(value, self->precision);
      break;
    case PROP_TILE_SIZE:
      g_value_set_int(value, self->tile_size);
      break;
    case PROP_TILE_OVERLAP:
      g_value_set_int(value, self->tile_overlap);
      break;
    case PROP_THREADS:
      g_value_set_int(value, self->threads);
      break;
    case PROP_STRENGTH:
      g_value_set_double(value, self->strength);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static gboolean gst_derain_start(GstBaseTransform* trans) {
  GstDerain* self = GST_DERAIN(trans);

  derain::EngineOptions options;
  GST_OBJECT_LOCK(self);
  gchar* model = g_strdup(self->model);
  options.device = gst_derain_device_to_derain(self->device);
  options.precision = gst_derain_precision_to_derain(self->precision);
  options.tile_size = self->tile_size;
  options.tile_overlap = self->tile_overlap;
  options.threads = self->threads;
  GST_OBJECT_UNLOCK(self);

  std::shared_ptr<derain::SharedEngine> engine = derain_gst::openEngine(GST_ELEMENT(self), model, options);
  g_free(model);
  if (!engine) return FALSE;  // openEngine posted the error

  try {
    GST_INFO_OBJECT(self, "engine: %s", engine->describe().c_str());
    delete self->stream;
    self->stream = new DerainStream();
    self->stream->engine = std::move(engine);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Cannot start libderain."), ("%s", e.what()));
    return FALSE;
  }
  gst_derain_update_passthrough(self);
  return TRUE;
}

static gboolean gst_derain_stop(GstBaseTransform* trans) {
  GstDerain* self = GST_DERAIN(trans);
  delete self->stream;
  self->stream = nullptr;
  GST_OBJECT_LOCK(self);
  self->latency = 0;
  GST_OBJECT_UNLOCK(self);
  return TRUE;
}

// Reports a new processing latency and asks the pipeline to recompute its latency.
static void gst_derain_set_latency(GstDerain* self, GstClockTime latency) {
  GST_OBJECT_LOCK(self);
  const gboolean changed = latency != self->latency;
  self->latency = latency;
  GST_OBJECT_UNLOCK(self);
  if (changed) {
    GST_INFO_OBJECT(self, "latency %" GST_TIME_FORMAT, GST_TIME_ARGS(latency));
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_latency(GST_OBJECT(self)));
  }
}

// Folds one frame's processing time into the average; raises the reported latency when the
// average has outgrown it (e.g. the machine got busier than at warm-up).
static void gst_derain_record_frame_time(GstDerain* self, gint64 frame_ns) {
  DerainStream* stream = self->stream;
  stream->average_frame_ns = stream->average_frame_ns <= 0.0
      ? static_cast<double>(frame_ns)
      : (1.0 - FRAME_TIME_AVERAGE_WEIGHT) * stream->average_frame_ns + FRAME_TIME_AVERAGE_WEIGHT * frame_ns;
  GST_OBJECT_LOCK(self);
  const GstClockTime reported = self->latency;
  GST_OBJECT_UNLOCK(self);
  if (stream->average_frame_ns > LATENCY_RAISE_FACTOR * static_cast<double>(reported))
    gst_derain_set_latency(self, static_cast<GstClockTime>(stream->average_frame_ns));
}

static gboolean gst_derain_set_info(GstVideoFilter* filter, GstCaps*, GstVideoInfo* in_info, GstCaps*,
    GstVideoInfo*) {
  GstDerain* self = GST_DERAIN(filter);
  if (self->stream == nullptr) return FALSE;

  // Two blank frames through the network: the first inference at a size is slower than the rest
  // (allocations, kernel selection) and is better paid now than on a live frame; the second one's
  // time is the latency to report.
  try {
    const cv::Mat blank(GST_VIDEO_INFO_HEIGHT(in_info), GST_VIDEO_INFO_WIDTH(in_info), CV_8UC3,
                        cv::Scalar::all(128));
    const derain::ColorOrder order = derain_gst::colorOrder(GST_VIDEO_INFO_FORMAT(in_info));
    self->stream->engine->derain(blank, self->stream->derained, order);
    const gint64 begin = g_get_monotonic_time();
    self->stream->engine->derain(blank, self->stream->derained, order);
    const gint64 frame_ns = (g_get_monotonic_time() - begin) * GST_USECOND;
    GST_INFO_OBJECT(self, "warm-up frame %dx%d took %" GST_TIME_FORMAT, GST_VIDEO_INFO_WIDTH(in_info),
                    GST_VIDEO_INFO_HEIGHT(in_info), GST_TIME_ARGS(frame_ns));
    self->stream->average_frame_ns = 0.0;
    gst_derain_set_latency(self, static_cast<GstClockTime>(frame_ns));
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a %dx%d frame failed.", GST_VIDEO_INFO_WIDTH(in_info),
                      GST_VIDEO_INFO_HEIGHT(in_info)), ("%s", e.what()));
    return FALSE;
  } catch (...) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("unknown exception"));
    return FALSE;
  }
  return TRUE;
}

static gboolean gst_derain_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query) {
  GstDerain* self = GST_DERAIN(trans);

  if (direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    if (!gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(trans), query)) return FALSE;
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency(query, &live, &min, &max);
    GST_OBJECT_LOCK(self);
    const GstClockTime ours = self->latency;
    GST_OBJECT_UNLOCK(self);
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID(max)) max += ours;
    GST_DEBUG_OBJECT(self, "latency: ours %" GST_TIME_FORMAT ", total min %" GST_TIME_FORMAT,
                     GST_TIME_ARGS(ours), GST_TIME_ARGS(min));
    gst_query_set_latency(query, live, min, max);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
}

static void gst_derain_before_transform(GstBaseTransform* trans, GstBuffer* buffer) {
  const GstClockTime timestamp = GST_BUFFER_TIMESTAMP(buffer);
  const GstClockTime stream_time = gst_segment_to_stream_time(&trans->segment, GST_FORMAT_TIME, timestamp);
  GST_LOG_OBJECT(trans, "stream time %" GST_TIME_FORMAT, GST_TIME_ARGS(stream_time));
  if (GST_CLOCK_TIME_IS_VALID(stream_time)) gst_object_sync_values(GST_OBJECT(trans), stream_time);
  gst_derain_update_passthrough(GST_DERAIN(trans));
}

static GstFlowReturn gst_derain_transform_frame(GstVideoFilter* filter, GstVideoFrame* in_frame,
    GstVideoFrame* out_frame) {
  GstDerain* self = GST_DERAIN(filter);
  DerainStream* stream = self->stream;

  GST_OBJECT_LOCK(self);
  const double strength = self->strength;
  GST_OBJECT_UNLOCK(self);

  try {
    const cv::Mat in = derain_gst::frameMat(in_frame);
    cv::Mat out = derain_gst::frameMat(out_frame);
    const cv::Mat colour = derain_gst::packedColour(in, stream->packed);
    if (strength <= 0.0) {  // passthrough is being switched on: no need to run the network
      derain_gst::writeColour(colour, in, out);
      return GST_FLOW_OK;
    }

    const gint64 begin = g_get_monotonic_time();
    stream->engine->derain(colour, stream->derained, derain_gst::colorOrder(GST_VIDEO_FRAME_FORMAT(in_frame)));
    gst_derain_record_frame_time(self, (g_get_monotonic_time() - begin) * GST_USECOND);

    if (strength >= 1.0) {
      derain_gst::writeColour(stream->derained, in, out);
    } else {
      cv::addWeighted(stream->derained, strength, colour, 1.0 - strength, 0.0, stream->blended);
      derain_gst::writeColour(stream->blended, in, out);
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  } catch (...) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("unknown exception"));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}
