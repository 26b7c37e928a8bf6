/* rainmake: rain synthesis for video with libderain.
 *
 * SPDX-License-Identifier: MIT
 */

/**
 * SECTION:element-rainmake
 * @title: rainmake
 * @see_also: derain
 *
 * Adds rain to clean video, for data augmentation and for testing deraining pipelines.
 *
 * In the default procedural mode, streaks are rendered by libderain's rain renderer
 * (derain::addRain: Rain100L-style motion-blurred streaks added to the frame, with an optional
 * veil). #GstRainmake:density, #GstRainmake:angle, #GstRainmake:angle-jitter, #GstRainmake:length,
 * #GstRainmake:width, #GstRainmake:intensity and #GstRainmake:haze shape the rain and are all
 * controllable over time (#GstController), e.g. to let a shower build up.
 *
 * In learned mode the rain comes from the rainmake generator G_R of a DerainCycleGAN model
 * (#GstRainmake:model, default as for derain); #GstRainmake:mask-noise varies it and the
 * procedural parameters do not apply. With #GstRainmake:rain-reference, G_R is driven by the
 * attention mask of that real rainy photo (resized to the frame) instead of each frame's own
 * near-zero mask: the paper's Rain200A procedure. The file is read at the change to PAUSED; an
 * unreadable one makes it fail (RESOURCE/OPEN_READ, naming the file). A missing or corrupt model makes the change to PAUSED fail
 * (RESOURCE/NOT_FOUND or LIBRARY/INIT). The network runs as in derain: the same
 * #GstRainmake:device, #GstRainmake:precision, #GstRainmake:threads, #GstRainmake:tile-size and
 * #GstRainmake:tile-overlap properties (same defaults and ranges), and the same shared engine per
 * model, settings and #GstRainmake:model-instance-id (a derain and a rainmake with the same model,
 * settings and instance share one).
 *
 * QoS is on, as in derain: frames that would reach a synchronising sink too late are dropped
 * before they are rendered. The element reports its processing time as latency, measured on the
 * first frame after caps are set (no warm-up inference at negotiation) and raised with a latency
 * message when frames later take more than 1.5 times that on average.
 *
 * The rain parameters and #GstRainmake:seed can change while playing; #GstRainmake:mode and the
 * network's properties are read when the element goes from READY to PAUSED, and setting one in
 * PAUSED or PLAYING is refused with a warning (the property keeps its value).
 *
 * Output is deterministic: frame k of the stream is rendered with seed #GstRainmake:seed + k, so
 * the same pipeline with the same seed gives the same bytes, run after run, and a seek renders the
 * same rain again. k is the frame's stream time times the frame rate; for streams without frame
 * rate or timestamps, the buffer offset, else the count of frames since the element started.
 * A 4th (alpha or padding) byte passes through unchanged.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc ! video/x-raw,format=RGB ! rainmake density=0.1 angle=15 ! \
 *     videoconvert ! autovideosink
 * ]| Moderate slanted rain on the test pattern.
 * |[
 * gst-launch-1.0 filesrc location=clean.mkv ! decodebin ! videoconvert ! \
 *     rainmake seed=7 density=0.15 length=45 haze=0.2 ! videoconvert ! jpegenc ! \
 *     multifilesink location=rainy-%05d.jpg
 * ]| Augments clean footage into a reproducible folder of rainy frames.
 * |[
 * gst-launch-1.0 filesrc location=clean.mkv ! decodebin ! videoconvert ! \
 *     rainmake mode=learned model=lite.derain mask-noise=0.05 ! videoconvert ! autovideosink
 * ]| Learned rain from a trained model.
 * |[
 * gst-launch-1.0 filesrc location=clean.mkv ! decodebin ! videoconvert ! \
 *     rainmake mode=learned rain-reference=real-rain.jpg mask-noise=0.05 ! videoconvert ! autovideosink
 * ]| Learned rain laid out as in a real rainy photo (Rain200A-style).
 */

#include "gstrainmake.h"

#include <exception>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <memory>
#include <new>

#include <opencv2/core.hpp>

#include <derain/engine_options.hpp>
#include <derain/inference_library.hpp>
#include <derain/rain.hpp>

#include "element_common.h"
#include "engine_open.h"
#include "gstderainenums.h"
#include "video_frame_mat.h"

GST_DEBUG_CATEGORY_STATIC(gst_rainmake_debug);
#define GST_CAT_DEFAULT gst_rainmake_debug

// The procedural parameters' defaults are derain::RainParams' own (light Rain100L-style rain),
// read from a default-constructed RainParams; their ranges are the ones rain.hpp documents (and
// RainParams::validate() enforces). The network's properties: element_common.h.
#define DEFAULT_PROP_MODE GST_RAINMAKE_MODE_PROCEDURAL
#define DEFAULT_PROP_MASK_NOISE 0.0
#define DEFAULT_PROP_SEED 0
#define MAX_MASK_NOISE 10.0

enum {
  PROP_0,
  PROP_MODE,
  PROP_ENGINE_FIRST,  // the network's properties: PROP_ENGINE_FIRST + derain_gst::EngineProperty
  PROP_DENSITY = PROP_ENGINE_FIRST + derain_gst::ENGINE_PROP_COUNT,
  PROP_ANGLE,
  PROP_ANGLE_JITTER,
  PROP_LENGTH,
  PROP_WIDTH,
  PROP_INTENSITY,
  PROP_HAZE,
  PROP_MASK_NOISE,
  PROP_SEED,
  PROP_RAIN_REFERENCE,
};

// What exists between start() and stop(): the model of learned mode and the learned-mode scratch.
struct RainmakeStream {
  std::shared_ptr<derain::SharedEngine> engine;  // learned mode only
  cv::Mat packed;                          // input colour channels for the engine
  cv::Mat rainy;                           // engine output
  cv::Mat reference;                       // rain-reference photo (BGR), empty without one
  cv::Mat reference_rgb;                   // the same in RGB order, made at the first RGB frame
  guint64 frames = 0;                      // frames seen since start(), the last resort frame index
};

struct _GstRainmake {
  GstVideoFilter videofilter;

  /* properties, guarded by the object lock */
  GstRainmakeMode mode;
  derain_gst::EngineSettings engine;  // learned mode
  derain::RainParams rain;  // density, angle, angle_jitter, length, width, intensity, haze
  gdouble mask_noise;
  guint64 seed;
  gchar* rain_reference;  // image file for learned mode, read at start; NULL = none

  /* latency answered to LATENCY queries (thread-safe) */
  derain_gst::ProcessingLatency* latency;

  /* streaming thread only */
  guint64 frame_index;  // of the buffer being processed, set in before_transform
  RainmakeStream* stream;
};

static GstStaticPadTemplate gst_rainmake_sink_template = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DERAIN_GST_FORMATS)));

static GstStaticPadTemplate gst_rainmake_src_template = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(DERAIN_GST_FORMATS)));

#define gst_rainmake_parent_class parent_class
G_DEFINE_TYPE(GstRainmake, gst_rainmake, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(rainmake, "rainmake", GST_RANK_NONE, GST_TYPE_RAINMAKE,
    GST_DEBUG_CATEGORY_INIT(gst_rainmake_debug, "rainmake", 0, "rainmake: rain synthesis with libderain"));

static void gst_rainmake_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec);
static void gst_rainmake_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec);
static void gst_rainmake_finalize(GObject* object);
static gboolean gst_rainmake_start(GstBaseTransform* trans);
static gboolean gst_rainmake_stop(GstBaseTransform* trans);
static gboolean gst_rainmake_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query);
static gboolean gst_rainmake_set_info(GstVideoFilter* filter, GstCaps* incaps, GstVideoInfo* in_info,
    GstCaps* outcaps, GstVideoInfo* out_info);
static void gst_rainmake_before_transform(GstBaseTransform* trans, GstBuffer* buffer);
static GstFlowReturn gst_rainmake_transform_frame(GstVideoFilter* filter, GstVideoFrame* in_frame,
    GstVideoFrame* out_frame);

// A double property with the given range that can change while playing and follow a controller.
static void install_controllable_double(GObjectClass* gobject_class, guint prop_id, const char* name,
    const char* nick, const char* blurb, double min, double max, double default_value) {
  g_object_class_install_property(gobject_class, prop_id,
      g_param_spec_double(name, nick, blurb, min, max, default_value,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING |
                                   GST_PARAM_CONTROLLABLE)));
}

static void gst_rainmake_class_init(GstRainmakeClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_rainmake_set_property;
  gobject_class->get_property = gst_rainmake_get_property;
  gobject_class->finalize = gst_rainmake_finalize;

  const auto ready_flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                    GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(gobject_class, PROP_MODE,
      g_param_spec_enum("mode", "Mode", "Where the rain comes from", GST_TYPE_RAINMAKE_MODE,
          DEFAULT_PROP_MODE, ready_flags));
  derain_gst::installEngineProperties(gobject_class, PROP_ENGINE_FIRST,
      "libderain model file for mode=learned; unset = $DERAIN_MODEL, else the installed default model");
  const derain::RainParams defaults;
  install_controllable_double(gobject_class, PROP_DENSITY, "density", "Density",
      "Fraction of the frame covered by streak cores (procedural); 0 = no rain, ~0.02-0.06 light, "
      "~0.1-0.2 heavy", derain::kRainDensity.min, derain::kRainDensity.max, defaults.density);
  install_controllable_double(gobject_class, PROP_ANGLE, "angle", "Angle",
      "Streak direction in degrees from vertical (procedural); positive tilts the top to the right",
      derain::kRainAngle.min, derain::kRainAngle.max, defaults.angle);
  install_controllable_double(gobject_class, PROP_ANGLE_JITTER, "angle-jitter", "Angle jitter",
      "Random deviation of each streak from the angle, degrees (procedural)",
      derain::kRainAngleJitter.min, derain::kRainAngleJitter.max,
      defaults.angle_jitter);
  install_controllable_double(gobject_class, PROP_LENGTH, "length", "Length",
      "Mean streak length in pixels (procedural); each streak is 0.6x-1.4x this",
      derain::kRainLength.min, derain::kRainLength.max,
      defaults.length);
  install_controllable_double(gobject_class, PROP_WIDTH, "width", "Width",
      "Streak core width in pixels, full width at half maximum (procedural)",
      derain::kRainWidth.min, derain::kRainWidth.max,
      defaults.width);
  install_controllable_double(gobject_class, PROP_INTENSITY, "intensity", "Intensity",
      "Brightness the brightest streak adds, 0..1 of full white (procedural)", derain::kRainIntensity.min,
      derain::kRainIntensity.max, defaults.intensity);
  install_controllable_double(gobject_class, PROP_HAZE, "haze", "Haze",
      "Veil towards light grey, 0 = none, 0.3 = misty heavy rain (procedural)", derain::kRainHaze.min,
      derain::kRainHaze.max, defaults.haze);
  install_controllable_double(gobject_class, PROP_MASK_NOISE, "mask-noise", "Mask noise",
      "Std-dev of the noise added to the attention mask to vary the rain (learned)", 0.0, MAX_MASK_NOISE,
      DEFAULT_PROP_MASK_NOISE);
  g_object_class_install_property(gobject_class, PROP_RAIN_REFERENCE,
      g_param_spec_string("rain-reference", "Rain reference",
          "Real rainy photo whose attention mask drives the learned rain (Rain200A-style, mode=learned); "
          "read when the element starts; unset = each frame's own mask",
          nullptr, ready_flags));
  g_object_class_install_property(gobject_class, PROP_SEED,
      g_param_spec_uint64("seed", "Seed", "Random seed; frame k of the stream uses seed + k", 0, G_MAXUINT64,
          DEFAULT_PROP_SEED,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING |
                                   GST_PARAM_CONTROLLABLE)));

  gst_element_class_set_static_metadata(element_class, "Rain synthesis", "Filter/Effect/Video",
      "Adds reproducible rain to video: procedural streaks or a DerainCycleGAN model's rainmake "
      "generator (libderain)",
      "libderain developers");
  gst_element_class_add_static_pad_template(element_class, &gst_rainmake_sink_template);
  gst_element_class_add_static_pad_template(element_class, &gst_rainmake_src_template);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_rainmake_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_rainmake_stop);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_rainmake_query);
  filter_class->set_info = GST_DEBUG_FUNCPTR(gst_rainmake_set_info);
  trans_class->before_transform = GST_DEBUG_FUNCPTR(gst_rainmake_before_transform);
  filter_class->transform_frame = GST_DEBUG_FUNCPTR(gst_rainmake_transform_frame);

  gst_type_mark_as_plugin_api(GST_TYPE_RAINMAKE_MODE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_DERAIN_DEVICE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_DERAIN_PRECISION, static_cast<GstPluginAPIFlags>(0));
}

static void gst_rainmake_init(GstRainmake* self) {
  self->mode = DEFAULT_PROP_MODE;
  derain_gst::engineSettingsInit(&self->engine);
  new (&self->rain) derain::RainParams();  // the instance memory is zeroed, not constructed: the defaults
  self->latency = new derain_gst::ProcessingLatency();
  self->mask_noise = DEFAULT_PROP_MASK_NOISE;
  self->seed = DEFAULT_PROP_SEED;
  self->rain_reference = nullptr;
  self->frame_index = 0;
  self->stream = nullptr;
  // As derain: late frames are dropped before they are rendered.
  gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_rainmake_finalize(GObject* object) {
  GstRainmake* self = GST_RAINMAKE(object);
  delete self->stream;
  self->stream = nullptr;
  delete self->latency;
  self->latency = nullptr;
  derain_gst::engineSettingsClear(&self->engine);
  g_free(self->rain_reference);
  self->rain_reference = nullptr;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_rainmake_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstRainmake* self = GST_RAINMAKE(object);

  GST_OBJECT_LOCK(self);
  const bool read_at_start = prop_id == PROP_MODE || prop_id == PROP_RAIN_REFERENCE ||
      (prop_id >= PROP_ENGINE_FIRST && prop_id < PROP_ENGINE_FIRST + derain_gst::ENGINE_PROP_COUNT);
  if (read_at_start && derain_gst::refuseWhileRunning(GST_ELEMENT(self), pspec)) {
    GST_OBJECT_UNLOCK(self);
    return;
  }
  if (derain_gst::setEngineProperty(&self->engine, PROP_ENGINE_FIRST, prop_id, value)) {
    GST_OBJECT_UNLOCK(self);
    return;
  }
  switch (prop_id) {
    case PROP_MODE:
      self->mode = static_cast<GstRainmakeMode>(g_value_get_enum(value));
      break;
    case PROP_DENSITY:
      self->rain.density = g_value_get_double(value);
      break;
    case PROP_ANGLE:
      self->rain.angle = g_value_get_double(value);
      break;
    case PROP_ANGLE_JITTER:
      self->rain.angle_jitter = g_value_get_double(value);
      break;
    case PROP_LENGTH:
      self->rain.length = g_value_get_double(value);
      break;
    case PROP_WIDTH:
      self->rain.width = g_value_get_double(value);
      break;
    case PROP_INTENSITY:
      self->rain.intensity = g_value_get_double(value);
      break;
    case PROP_HAZE:
      self->rain.haze = g_value_get_double(value);
      break;
    case PROP_MASK_NOISE:
      self->mask_noise = g_value_get_double(value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64(value);
      break;
    case PROP_RAIN_REFERENCE:
      g_free(self->rain_reference);
      self->rain_reference = g_value_dup_string(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_rainmake_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstRainmake* self = GST_RAINMAKE(object);

  GST_OBJECT_LOCK(self);
  if (derain_gst::getEngineProperty(self->engine, PROP_ENGINE_FIRST, prop_id, value)) {
    GST_OBJECT_UNLOCK(self);
    return;
  }
  switch (prop_id) {
    case PROP_MODE:
      g_value_set_enum(value, self->mode);
      break;
    case PROP_DENSITY:
      g_value_set_double(value, self->rain.density);
      break;
    case PROP_ANGLE:
      g_value_set_double(value, self->rain.angle);
      break;
    case PROP_ANGLE_JITTER:
      g_value_set_double(value, self->rain.angle_jitter);
      break;
    case PROP_LENGTH:
      g_value_set_double(value, self->rain.length);
      break;
    case PROP_WIDTH:
      g_value_set_double(value, self->rain.width);
      break;
    case PROP_INTENSITY:
      g_value_set_double(value, self->rain.intensity);
      break;
    case PROP_HAZE:
      g_value_set_double(value, self->rain.haze);
      break;
    case PROP_MASK_NOISE:
      g_value_set_double(value, self->mask_noise);
      break;
    case PROP_SEED:
      g_value_set_uint64(value, self->seed);
      break;
    case PROP_RAIN_REFERENCE:
      g_value_set_string(value, self->rain_reference);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static gboolean gst_rainmake_start(GstBaseTransform* trans) {
  GstRainmake* self = GST_RAINMAKE(trans);

  GST_OBJECT_LOCK(self);
  const GstRainmakeMode mode = self->mode;
  gchar* model = g_strdup(self->engine.model);
  const std::string instance = self->engine.model_instance_id != nullptr ? self->engine.model_instance_id : "";
  const std::string reference_path = self->rain_reference != nullptr ? self->rain_reference : "";
  const derain::EngineOptions options = derain_gst::engineOptions(self->engine);
  GST_OBJECT_UNLOCK(self);

  std::shared_ptr<derain::SharedEngine> engine;
  cv::Mat reference;
  if (mode == GST_RAINMAKE_MODE_LEARNED && !reference_path.empty()) {
    // Read before the model, so a wrong path fails at once. (Procedural mode ignores the property.)
    try {
      reference = cv::imread(reference_path, cv::IMREAD_COLOR);
    } catch (const std::exception&) {
      reference.release();
    }
    if (reference.empty()) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Cannot read the rain-reference image '%s'.", reference_path.c_str()),
          ("not a readable image file (missing, unreadable or not an image format OpenCV reads)"));
      g_free(model);
      return FALSE;
    }
  }
  if (mode == GST_RAINMAKE_MODE_LEARNED) {
    engine = derain_gst::openEngine(GST_ELEMENT(self), model, options, instance.c_str());
    if (!engine) {  // openEngine posted the error
      g_free(model);
      return FALSE;
    }
  }
  g_free(model);

  delete self->stream;
  self->stream = new (std::nothrow) RainmakeStream();
  if (self->stream == nullptr) {
    GST_ELEMENT_ERROR(self, RESOURCE, FAILED, ("Out of memory."), (nullptr));
    return FALSE;
  }
  self->stream->engine = std::move(engine);
  self->stream->reference = std::move(reference);
  self->latency->clear();
  return TRUE;
}

static gboolean gst_rainmake_stop(GstBaseTransform* trans) {
  GstRainmake* self = GST_RAINMAKE(trans);
  delete self->stream;
  self->stream = nullptr;
  self->latency->clear();
  return TRUE;
}

static gboolean gst_rainmake_set_info(GstVideoFilter* filter, GstCaps*, GstVideoInfo*, GstCaps*, GstVideoInfo*) {
  // No inference here: the frame time is measured again on the first frame of the new size.
  GST_RAINMAKE(filter)->latency->reset();
  return TRUE;
}

static gboolean gst_rainmake_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query) {
  GstRainmake* self = GST_RAINMAKE(trans);
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY)
    return derain_gst::answerLatencyQuery(trans, query, self->latency->latency());
  return GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
}

// Index of a frame in its stream, for the per-frame seed: from the stream time when the frame rate
// is known (stable across runs, drops and seeks), else the buffer offset, else a frame counter.
static guint64 gst_rainmake_frame_index(GstRainmake* self, GstBuffer* buffer, GstClockTime stream_time) {
  const GstVideoInfo* info = &GST_VIDEO_FILTER(self)->in_info;
  if (GST_CLOCK_TIME_IS_VALID(stream_time) && GST_VIDEO_INFO_FPS_N(info) > 0 && GST_VIDEO_INFO_FPS_D(info) > 0)
    return gst_util_uint64_scale_round(stream_time, GST_VIDEO_INFO_FPS_N(info),
                                       static_cast<guint64>(GST_VIDEO_INFO_FPS_D(info)) * GST_SECOND);
  if (GST_BUFFER_OFFSET_IS_VALID(buffer)) return GST_BUFFER_OFFSET(buffer);
  return self->stream != nullptr ? self->stream->frames : 0;
}

static void gst_rainmake_before_transform(GstBaseTransform* trans, GstBuffer* buffer) {
  GstRainmake* self = GST_RAINMAKE(trans);
  const GstClockTime timestamp = GST_BUFFER_TIMESTAMP(buffer);
  const GstClockTime stream_time = gst_segment_to_stream_time(&trans->segment, GST_FORMAT_TIME, timestamp);
  GST_LOG_OBJECT(self, "stream time %" GST_TIME_FORMAT, GST_TIME_ARGS(stream_time));
  if (GST_CLOCK_TIME_IS_VALID(stream_time)) gst_object_sync_values(GST_OBJECT(self), stream_time);
  self->frame_index = gst_rainmake_frame_index(self, buffer, stream_time);
}

static GstFlowReturn gst_rainmake_transform_frame(GstVideoFilter* filter, GstVideoFrame* in_frame,
    GstVideoFrame* out_frame) {
  GstRainmake* self = GST_RAINMAKE(filter);
  RainmakeStream* stream = self->stream;

  GST_OBJECT_LOCK(self);
  derain::RainParams rain = self->rain;
  const double mask_noise = self->mask_noise;
  const guint64 seed = self->seed + self->frame_index;  // unsigned: wraps around, still deterministic
  GST_OBJECT_UNLOCK(self);
  rain.seed = seed;
  ++stream->frames;

  try {
    const gint64 begin = g_get_monotonic_time();
    const cv::Mat in = derain_gst::frameMat(in_frame);
    cv::Mat out = derain_gst::frameMat(out_frame);
    if (stream->engine) {
      derain::RainmakeOptions options;
      options.mask_noise = static_cast<float>(mask_noise);
      options.seed = seed;
      const derain::ColorOrder order = derain_gst::colorOrder(GST_VIDEO_FRAME_FORMAT(in_frame));
      if (!stream->reference.empty()) {
        if (order == derain::ColorOrder::RGB && stream->reference_rgb.empty())
          cv::cvtColor(stream->reference, stream->reference_rgb, cv::COLOR_BGR2RGB);
        options.reference = order == derain::ColorOrder::RGB ? stream->reference_rgb : stream->reference;
      }
      const cv::Mat colour = derain_gst::packedColour(in, stream->packed);
      stream->engine->rainmake(colour, stream->rainy, order, options);
      derain_gst::writeColour(stream->rainy, in, out);
    } else {
      cv::Mat rendered = out;  // addRain writes through a header of the right size and type
      derain::addRain(in, rendered, rain);
      if (rendered.data != out.data) rendered.copyTo(out);  // in case it ever reallocates
    }
    derain_gst::recordFrameTime(GST_ELEMENT(self), *self->latency,
        static_cast<GstClockTime>(g_get_monotonic_time() - begin) * GST_USECOND, 1);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Adding rain to a frame failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  } catch (...) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Adding rain to a frame failed."), ("unknown exception"));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}
