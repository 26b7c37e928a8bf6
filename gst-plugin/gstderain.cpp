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
 * #GstDerain:grey-rain (default TRUE) makes the removed rain layer grey, keeping its luma: rain is
 * achromatic, and a model's colour cast lives in that layer (FALSE: the generator's output as it is).
 * #GstDerain:bounded-rain (default TRUE) keeps that grey layer where rain can put it: it never
 * brightens a pixel, nor darkens it below the darkest input pixel near it in its row, so an
 * over-subtracted streak leaves no dark trace.
 * #GstDerain:rain-strength (default 1) scales the layer the model removes before that bound: above 1
 * it removes more of heavy rain that the model only thins, at some cost on clean detail.
 *
 * #GstDerain:strength blends the derained frame with the input; at 0 the element is in passthrough
 * (bit-exact input, no inference). Strength is controllable (#GstController), so it can be faded.
 *
 * With #GstDerain:max-in-flight above 1, frames are processed on the element's own worker thread
 * and pushed downstream by another: the streaming thread hands a frame over and goes back upstream
 * for the next one, so capture, decoding and colour conversion of frame t+1 overlap the network's
 * work on frame t, and the network goes on with frame t+1 while a synchronising sink holds frame t
 * until its render time. At most max-in-flight frames are queued, being processed or waiting to be
 * pushed; the streaming thread waits while that many are (backpressure). Frames leave in the order
 * they came, with their timestamps, flags and metadata; EOS and caps changes wait until every
 * queued frame is out, a flush or the change to READY discards the queued ones.
 *
 * From a live source (with QoS on) the streaming thread never waits: a blocked live source falls
 * behind its clock and every frame it makes afterwards is late. When max-in-flight frames are
 * queued or being processed, the frame still waiting gives way to the new one (as a leaky queue;
 * the next frame pushed is marked DISCONT), so the network always works on the newest frame.
 * Measured with a live 25 fps source (derain-gst-bench --live, README "Performance"), the element
 * renders on time about as many frames as it can process. max-in-flight=1 processes each frame in
 * the streaming thread, as a plain #GstVideoFilter does (lowest latency: one frame time).
 *
 * Elements with the same model file and the same engine properties share one loaded engine (one
 * copy of the weights, one thread pool) and take turns on it, frame by frame. Elements that name
 * different #GstDerain:model-instance-id values get engines of their own, which run frames at the
 * same time: two cameras on two cores, each with threads=1 and its own instance, process more frames
 * in total than the two sharing one 2-thread engine (README "Performance" has the measurement).
 *
 * QoS is on: frames that would arrive too late at a synchronising sink are dropped before the
 * network runs, so a live source does not pile up latency when the CPU cannot keep up. The element
 * reports as latency max-in-flight times the time one frame takes. Negotiation runs no inference
 * (no warm-up: a caps change costs nothing, even with a big model at a big size); the frame time is
 * measured on the first real frame after caps are set, announced with a latency message, set once
 * more on the slowest of the 8 frames after the warm-up (the first frame and those that fill the
 * temporal window and the look-ahead) plus 25 %, and raised again (another latency message) when
 * frames later take more than 1.5 times that on average. Until the first frame has gone through the
 * element reports no latency of its own.
 *
 * #GstDerain:temporal-window (default 3) makes the element video-native: each frame is derained with
 * the help of the previous frames, aligned by optical flow (rain moves between frames, the scene does
 * not; see libderain's docs/temporal-deraining.md). It is causal and adds no latency. Flushes, DISCONT
 * buffers, caps changes and detected scene cuts start the sequence afresh; 0 derains every frame alone.
 *
 * #GstDerain:lookahead (default 0) also uses that many following frames: a frame leaves the element
 * once its look-ahead has arrived, so the element holds back that many frames, and its latency (the
 * LATENCY query, and latency messages) grows by that many frame durations (from the caps' framerate;
 * with a variable framerate, from the buffers' durations). Serialized events that come between held
 * frames leave after the frame before them; EOS, caps, segment, gap and stream-start events first let
 * out every held frame (with the look-ahead there is), a flush discards them. The look-ahead runs in the
 * streaming thread: with lookahead above 0, max-in-flight is taken as 1.
 *
 * Only #GstDerain:strength can change while playing. The other properties are read when the
 * element goes from READY to PAUSED; setting one in PAUSED or PLAYING is refused with a warning and
 * the property keeps its value.
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
 * |[
 * gst-launch-1.0 rtspsrc location=rtsp://camera/stream ! decodebin ! videoconvert ! \
 *     derain max-in-flight=3 ! videoconvert ! x264enc tune=zerolatency ! rtph264pay ! udpsink
 * ]| Live stream: decoding and encoding run while the network works on up to 3 frames.
 * |[
 * gst-launch-1.0 rtspsrc location=rtsp://cam1/stream ! decodebin ! videoconvert ! \
 *     derain threads=1 model-instance-id=cam1 ! videoconvert ! autovideosink \
 *   rtspsrc location=rtsp://cam2/stream ! decodebin ! videoconvert ! \
 *     derain threads=1 model-instance-id=cam2 ! videoconvert ! autovideosink
 * ]| Two cameras, each on an engine and a core of its own.
 */

#include "gstderain.h"

#include <exception>
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include <derain/engine_options.hpp>
#include <derain/error.hpp>
#include <derain/inference_library.hpp>
#include <derain/video_options.hpp>

#include "element_common.h"
#include "engine_open.h"
#include "frame_worker.h"
#include "gstderainenums.h"
#include "lookahead_queue.h"
#include "video_frame_mat.h"

GST_DEBUG_CATEGORY_STATIC(gst_derain_debug);
#define GST_CAT_DEFAULT gst_derain_debug

// model, device, precision, tile-size, tile-overlap and threads: element_common.h, with the
// defaults and ranges of derain::EngineOptions.
#define DEFAULT_PROP_STRENGTH 1.0
#define DEFAULT_PROP_MAX_IN_FLIGHT 2
#define DEFAULT_PROP_TEMPORAL_WINDOW (derain::VideoOptions().temporal_window)
#define DEFAULT_PROP_LOOKAHEAD (derain::VideoOptions().lookahead)
#define DEFAULT_PROP_GREY_RAIN (derain::EngineOptions().grey_rain)
#define DEFAULT_PROP_BOUNDED_RAIN (derain::EngineOptions().bounded_rain)
#define DEFAULT_PROP_RAIN_STRENGTH (derain::EngineOptions().rain_strength)
// More frames in flight only add latency: one is processed at a time.
#define MAX_IN_FLIGHT 16

enum {
  PROP_0,
  PROP_ENGINE_FIRST,  // the engine properties: PROP_ENGINE_FIRST + derain_gst::EngineProperty
  PROP_STRENGTH = PROP_ENGINE_FIRST + derain_gst::ENGINE_PROP_COUNT,
  PROP_MAX_IN_FLIGHT,
  PROP_TEMPORAL_WINDOW,
  PROP_LOOKAHEAD,
  PROP_GREY_RAIN,
  PROP_BOUNDED_RAIN,
  PROP_RAIN_STRENGTH,
};

// What exists between start() and stop(): the engine, per-frame scratch images (reused so no
// frame allocates; used by one thread at a time: the streaming thread, or the worker when there is
// one) and the worker.
struct DerainStream {
  std::shared_ptr<derain::SharedEngine> engine;
  cv::Mat packed;    // input colour channels when the frame is not already packed 3-channel
  cv::Mat derained;  // network output
  cv::Mat blended;   // output blended with the input (strength < 1)
  int max_in_flight = 1;
  int temporal_window = 0;
  int lookahead = 0;
  std::unique_ptr<derain::VideoStream> video;  // temporal_window or lookahead > 0: the previous frames' state
  derain_gst::LookaheadQueue held;  // lookahead > 0: frames waiting for their look-ahead (streaming thread)
  GstClockTime frame_duration = GST_CLOCK_TIME_NONE;  // from the caps' framerate, else the buffers
  std::unique_ptr<derain_gst::FrameWorker> worker;  // max_in_flight > 1 only
};

struct _GstDerain {
  GstVideoFilter videofilter;

  /* properties, guarded by the object lock */
  derain_gst::EngineSettings engine;
  gdouble strength;
  gint max_in_flight;
  gint temporal_window;
  gint lookahead;
  gboolean grey_rain;
  gboolean bounded_rain;
  gdouble rain_strength;

  /* latency answered to LATENCY queries (thread-safe) */
  derain_gst::ProcessingLatency* latency;
  /* the pipeline's latency from the last LATENCY event (NONE before one), and whether upstream said
   * it is live in the last LATENCY query; guarded by the object lock */
  GstClockTime configured_latency;
  gboolean upstream_live;

  /* created in start(), destroyed in stop() */
  DerainStream* stream;
  /* streaming thread: a frame was dropped by QoS, mark the next one DISCONT (worker mode) */
  gboolean discont_pending;
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
static GstStateChangeReturn gst_derain_change_state(GstElement* element, GstStateChange transition);
static gboolean gst_derain_start(GstBaseTransform* trans);
static gboolean gst_derain_stop(GstBaseTransform* trans);
static gboolean gst_derain_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query);
static gboolean gst_derain_sink_event(GstBaseTransform* trans, GstEvent* event);
static gboolean gst_derain_src_event(GstBaseTransform* trans, GstEvent* event);
static gboolean gst_derain_decide_allocation(GstBaseTransform* trans, GstQuery* query);
static void gst_derain_before_transform(GstBaseTransform* trans, GstBuffer* buffer);
static GstFlowReturn gst_derain_submit_input_buffer(GstBaseTransform* trans, gboolean is_discont, GstBuffer* input);
static GstFlowReturn gst_derain_generate_output(GstBaseTransform* trans, GstBuffer** outbuf);
static gboolean gst_derain_set_info(GstVideoFilter* filter, GstCaps* incaps, GstVideoInfo* in_info,
    GstCaps* outcaps, GstVideoInfo* out_info);
static GstFlowReturn gst_derain_transform_frame(GstVideoFilter* filter, GstVideoFrame* in_frame,
    GstVideoFrame* out_frame);
static GstFlowReturn gst_derain_let_out_held(GstDerain* self);

static void gst_derain_class_init(GstDerainClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_derain_set_property;
  gobject_class->get_property = gst_derain_get_property;
  gobject_class->finalize = gst_derain_finalize;

  derain_gst::installEngineProperties(gobject_class, PROP_ENGINE_FIRST,
      "libderain model file to load; unset = $DERAIN_MODEL, else the installed default model "
      "(no model at all makes the change to PAUSED fail)");
  g_object_class_install_property(gobject_class, PROP_STRENGTH,
      g_param_spec_double("strength", "Strength",
          "Blend of the derained frame with the input: 1 = derained only, 0 = input unchanged "
          "(passthrough, no inference)",
          0.0, 1.0, DEFAULT_PROP_STRENGTH,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                   GST_PARAM_MUTABLE_PLAYING | GST_PARAM_CONTROLLABLE)));
  g_object_class_install_property(gobject_class, PROP_MAX_IN_FLIGHT,
      g_param_spec_int("max-in-flight", "Frames in flight",
          "Frames queued to, processed by or waiting to be pushed from the element's worker thread "
          "before the streaming thread waits (from a live source it does not wait: a waiting frame "
          "gives way to the newer one); 1 = process each frame in the streaming thread. The element's "
          "latency is this many frame times",
          1, MAX_IN_FLIGHT, DEFAULT_PROP_MAX_IN_FLIGHT,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(gobject_class, PROP_TEMPORAL_WINDOW,
      g_param_spec_int("temporal-window", "Temporal window",
          "Previous frames, aligned by optical flow, that help derain each frame (rain moves between "
          "frames, the scene does not); 0 = every frame alone. Causal: adds no latency",
          0, derain::kMaxTemporalWindow, DEFAULT_PROP_TEMPORAL_WINDOW,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(gobject_class, PROP_LOOKAHEAD,
      g_param_spec_int("lookahead", "Look-ahead",
          "Following frames that also help derain each frame; the element holds back this many frames "
          "and its latency grows by as many frame durations. 0 = causal",
          0, derain::kMaxLookahead, DEFAULT_PROP_LOOKAHEAD,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(gobject_class, PROP_GREY_RAIN,
      g_param_spec_boolean("grey-rain", "Grey rain layer",
          "Make the removed rain layer grey (keeping its luma): rain is achromatic, and this removes the "
          "model's colour cast; FALSE = the generator's output as it is",
          DEFAULT_PROP_GREY_RAIN,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(gobject_class, PROP_BOUNDED_RAIN,
      g_param_spec_boolean("bounded-rain", "Bounded rain layer",
          "Keep the grey rain layer where rain can put it: never brighten a pixel, nor darken it below the "
          "darkest input pixel near it in its row (no dark traces); needs grey-rain",
          DEFAULT_PROP_BOUNDED_RAIN,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(gobject_class, PROP_RAIN_STRENGTH,
      g_param_spec_double("rain-strength", "Rain strength",
          "How much of the rain layer the model finds is removed, before the bound: 1 = the model's estimate, "
          "above 1 = more of heavy rain that 1 only thins (some cost on clean detail), 0 = none. Unlike "
          "strength (a blend with the input), it is applied inside the engine",
          0.0, derain::kMaxRainStrength, DEFAULT_PROP_RAIN_STRENGTH,
          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));

  gst_element_class_set_static_metadata(element_class, "Rain removal", "Filter/Effect/Video",
      "Removes rain streaks from video with a DerainCycleGAN model (libderain)",
      "libderain developers");
  gst_element_class_add_static_pad_template(element_class, &gst_derain_sink_template);
  gst_element_class_add_static_pad_template(element_class, &gst_derain_src_template);
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_derain_change_state);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_derain_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_derain_stop);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_derain_query);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_derain_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR(gst_derain_src_event);
  trans_class->decide_allocation = GST_DEBUG_FUNCPTR(gst_derain_decide_allocation);
  trans_class->before_transform = GST_DEBUG_FUNCPTR(gst_derain_before_transform);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR(gst_derain_submit_input_buffer);
  trans_class->generate_output = GST_DEBUG_FUNCPTR(gst_derain_generate_output);
  filter_class->set_info = GST_DEBUG_FUNCPTR(gst_derain_set_info);
  filter_class->transform_frame = GST_DEBUG_FUNCPTR(gst_derain_transform_frame);

  gst_type_mark_as_plugin_api(GST_TYPE_DERAIN_DEVICE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_DERAIN_PRECISION, static_cast<GstPluginAPIFlags>(0));
}

static void gst_derain_init(GstDerain* self) {
  derain_gst::engineSettingsInit(&self->engine);
  self->strength = DEFAULT_PROP_STRENGTH;
  self->max_in_flight = DEFAULT_PROP_MAX_IN_FLIGHT;
  self->temporal_window = DEFAULT_PROP_TEMPORAL_WINDOW;
  self->lookahead = DEFAULT_PROP_LOOKAHEAD;
  self->grey_rain = DEFAULT_PROP_GREY_RAIN;
  self->bounded_rain = DEFAULT_PROP_BOUNDED_RAIN;
  self->rain_strength = DEFAULT_PROP_RAIN_STRENGTH;
  self->latency = new derain_gst::ProcessingLatency();
  self->configured_latency = GST_CLOCK_TIME_NONE;
  self->upstream_live = FALSE;
  self->stream = nullptr;
  self->discont_pending = FALSE;
  // Late frames are dropped before the (expensive) network runs.
  gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_derain_finalize(GObject* object) {
  GstDerain* self = GST_DERAIN(object);
  delete self->stream;
  self->stream = nullptr;
  delete self->latency;
  self->latency = nullptr;
  derain_gst::engineSettingsClear(&self->engine);
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
  if (prop_id == PROP_STRENGTH) {
    self->strength = g_value_get_double(value);
  } else if (derain_gst::refuseWhileRunning(GST_ELEMENT(self), pspec)) {
    // read when the element starts: kept as it is
  } else if (prop_id == PROP_MAX_IN_FLIGHT) {
    self->max_in_flight = g_value_get_int(value);
  } else if (prop_id == PROP_TEMPORAL_WINDOW) {
    self->temporal_window = g_value_get_int(value);
  } else if (prop_id == PROP_LOOKAHEAD) {
    self->lookahead = g_value_get_int(value);
  } else if (prop_id == PROP_GREY_RAIN) {
    self->grey_rain = g_value_get_boolean(value);
  } else if (prop_id == PROP_BOUNDED_RAIN) {
    self->bounded_rain = g_value_get_boolean(value);
  } else if (prop_id == PROP_RAIN_STRENGTH) {
    self->rain_strength = g_value_get_double(value);
  } else if (!derain_gst::setEngineProperty(&self->engine, PROP_ENGINE_FIRST, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK(self);

  if (prop_id == PROP_STRENGTH) gst_derain_update_passthrough(self);
}

static void gst_derain_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstDerain* self = GST_DERAIN(object);

  GST_OBJECT_LOCK(self);
  if (prop_id == PROP_STRENGTH)
    g_value_set_double(value, self->strength);
  else if (prop_id == PROP_MAX_IN_FLIGHT)
    g_value_set_int(value, self->max_in_flight);
  else if (prop_id == PROP_TEMPORAL_WINDOW)
    g_value_set_int(value, self->temporal_window);
  else if (prop_id == PROP_LOOKAHEAD)
    g_value_set_int(value, self->lookahead);
  else if (prop_id == PROP_GREY_RAIN)
    g_value_set_boolean(value, self->grey_rain);
  else if (prop_id == PROP_BOUNDED_RAIN)
    g_value_set_boolean(value, self->bounded_rain);
  else if (prop_id == PROP_RAIN_STRENGTH)
    g_value_set_double(value, self->rain_strength);
  else if (!derain_gst::getEngineProperty(self->engine, PROP_ENGINE_FIRST, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  GST_OBJECT_UNLOCK(self);
}

static derain_gst::FrameWorker* gst_derain_worker(GstDerain* self) {
  return self->stream != nullptr ? self->stream->worker.get() : nullptr;
}

static GstStateChangeReturn gst_derain_change_state(GstElement* element, GstStateChange transition) {
  GstDerain* self = GST_DERAIN(element);
  // Before the pads deactivate: a streaming thread waiting for room in the queue must be let go
  // (deactivating the sink pad waits for it), and queued frames are not pushed any more.
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    if (derain_gst::FrameWorker* worker = gst_derain_worker(self)) worker->setFlushing(true);
  }
  return GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
}

static gboolean gst_derain_start(GstBaseTransform* trans) {
  GstDerain* self = GST_DERAIN(trans);

  GST_OBJECT_LOCK(self);
  gchar* model = g_strdup(self->engine.model);
  const std::string instance = self->engine.model_instance_id != nullptr ? self->engine.model_instance_id : "";
  derain::EngineOptions options = derain_gst::engineOptions(self->engine);
  options.grey_rain = self->grey_rain;
  options.bounded_rain = self->bounded_rain;
  options.rain_strength = static_cast<float>(self->rain_strength);
  int max_in_flight = self->max_in_flight;
  const int temporal_window = self->temporal_window;
  const int lookahead = self->lookahead;
  GST_OBJECT_UNLOCK(self);
  if (lookahead > 0 && max_in_flight > 1) {
    GST_WARNING_OBJECT(self, "lookahead %d runs in the streaming thread: max-in-flight %d taken as 1", lookahead,
                       max_in_flight);
    max_in_flight = 1;
  }

  std::shared_ptr<derain::SharedEngine> engine =
      derain_gst::openEngine(GST_ELEMENT(self), model, options, instance.c_str());
  g_free(model);
  if (!engine) return FALSE;  // openEngine posted the error

  try {
    GST_INFO_OBJECT(self, "engine: %s, %d frame(s) in flight", engine->describe().c_str(), max_in_flight);
    delete self->stream;
    self->stream = new DerainStream();
    self->stream->engine = std::move(engine);
    self->stream->max_in_flight = max_in_flight;
    self->stream->temporal_window = temporal_window;
    self->stream->lookahead = lookahead;
    if (max_in_flight > 1)
      self->stream->worker = std::make_unique<derain_gst::FrameWorker>(GST_ELEMENT(self),
          GST_BASE_TRANSFORM_SRC_PAD(trans), max_in_flight);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Cannot start libderain."), ("%s", e.what()));
    return FALSE;
  }
  self->discont_pending = FALSE;
  // The first frame, then those that fill the temporal window and the look-ahead, are not typical.
  self->latency->setWarmUpFrames(1 + temporal_window + lookahead);
  self->latency->clear();
  GST_OBJECT_LOCK(self);
  self->configured_latency = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK(self);
  gst_derain_update_passthrough(self);
  return TRUE;
}

static gboolean gst_derain_stop(GstBaseTransform* trans) {
  GstDerain* self = GST_DERAIN(trans);
  if (self->stream != nullptr) self->stream->worker.reset();  // before the scratch images it uses
  delete self->stream;
  self->stream = nullptr;
  self->latency->clear();
  return TRUE;
}

// Look-ahead latency: the frames held back times the frame duration (once it is known).
static void gst_derain_update_held_back_latency(GstDerain* self) {
  const DerainStream* stream = self->stream;
  const GstClockTime held = stream != nullptr && stream->lookahead > 0 && GST_CLOCK_TIME_IS_VALID(stream->frame_duration)
      ? stream->frame_duration * static_cast<GstClockTime>(stream->lookahead)
      : 0;
  if (self->latency->setHeldBack(held)) {
    GST_INFO_OBJECT(self, "look-ahead latency %" GST_TIME_FORMAT, GST_TIME_ARGS(held));
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_latency(GST_OBJECT(self)));
  }
}

static gboolean gst_derain_set_info(GstVideoFilter* filter, GstCaps*, GstVideoInfo* in_info, GstCaps*,
    GstVideoInfo*) {
  GstDerain* self = GST_DERAIN(filter);
  if (self->stream == nullptr) return FALSE;
  // No inference here (a warm-up at the new size could take many seconds with a big model): the
  // frame time is measured again on the first frame of the new size (queued frames are out already,
  // serialized events wait for them).
  GST_DEBUG_OBJECT(self, "negotiated %dx%d", GST_VIDEO_INFO_WIDTH(in_info), GST_VIDEO_INFO_HEIGHT(in_info));
  self->latency->reset();
  self->stream->video.reset();  // new caps: the previous frames say nothing about the next ones
  self->stream->frame_duration = GST_VIDEO_INFO_FPS_N(in_info) > 0
      ? gst_util_uint64_scale_int(GST_SECOND, GST_VIDEO_INFO_FPS_D(in_info), GST_VIDEO_INFO_FPS_N(in_info))
      : GST_CLOCK_TIME_NONE;
  gst_derain_update_held_back_latency(self);
  return TRUE;
}

static gboolean gst_derain_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query) {
  GstDerain* self = GST_DERAIN(trans);
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    const gboolean answered = derain_gst::answerLatencyQuery(trans, query, self->latency->latency());
    gboolean live = FALSE;
    if (answered) gst_query_parse_latency(query, &live, nullptr, nullptr);
    GST_OBJECT_LOCK(self);
    self->upstream_live = answered && live;
    GST_OBJECT_UNLOCK(self);
    return answered;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
}

static gboolean gst_derain_sink_event(GstBaseTransform* trans, GstEvent* event) {
  GstDerain* self = GST_DERAIN(trans);
  // A flush (seek) breaks the sequence: the next frame must not be aligned with the ones before.
  // The worker (if any) has finished every earlier frame once FLUSH_STOP returns from it below.
  const bool flush_stop = GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP;
  if (derain_gst::FrameWorker* worker = gst_derain_worker(self)) {
    switch (GST_EVENT_TYPE(event)) {
      case GST_EVENT_FLUSH_START:
        worker->setFlushing(true);
        break;
      case GST_EVENT_FLUSH_STOP:
        worker->setFlushing(false);  // waits until no frame from before the flush can be pushed
        self->discont_pending = FALSE;
        break;
      default:
        // EOS, CAPS, SEGMENT, GAP, ...: after every frame that came before them.
        if (GST_EVENT_IS_SERIALIZED(event)) worker->drain();
        break;
    }
  }
  if (self->stream != nullptr && self->stream->lookahead > 0) {
    switch (GST_EVENT_TYPE(event)) {
      case GST_EVENT_FLUSH_STOP:
        self->stream->held.clear();
        self->discont_pending = FALSE;
        break;
      case GST_EVENT_EOS:
      case GST_EVENT_CAPS:
      case GST_EVENT_SEGMENT:
      case GST_EVENT_GAP:
      case GST_EVENT_STREAM_START:
        // The frames held so far belong before it (and a new segment or caps ends their sequence).
        gst_derain_let_out_held(self);
        if (self->stream->video) self->stream->video->reset();
        break;
      default:
        if (GST_EVENT_IS_SERIALIZED(event) && !self->stream->held.empty()) {
          self->stream->held.pushEvent(event);  // leaves after the frame it followed
          return TRUE;
        }
        break;
    }
  }
  if (flush_stop && self->stream != nullptr) self->stream->video.reset();
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_derain_src_event(GstBaseTransform* trans, GstEvent* event) {
  GstDerain* self = GST_DERAIN(trans);
  if (GST_EVENT_TYPE(event) == GST_EVENT_LATENCY) {
    GstClockTime latency;
    gst_event_parse_latency(event, &latency);
    GST_OBJECT_LOCK(self);
    self->configured_latency = latency;
    GST_OBJECT_UNLOCK(self);
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->src_event(trans, event);
}

// QoS that looks ahead: in a live pipeline (upstream says so; its latency is configured), a frame that cannot
// reach the sink in time even if processed now (its running time + the pipeline latency is before
// now + the time this element is expected to take: frames in flight x its average frame time) is
// dropped before inference. The base class's QoS only drops frames that are already late when they
// arrive, which lets every frame be late by the element's own processing time once the source lags.
// Not the reported latency, which is a bound with headroom: with max-in-flight 1 and a synchronising
// sink right after, each frame arrives one frame duration before its deadline, and a bound above the
// frame duration dropped every other frame that would have been in time.
static bool gst_derain_too_late(GstDerain* self, GstBuffer* buffer) {
  GstBaseTransform* trans = GST_BASE_TRANSFORM(self);
  if (!gst_base_transform_is_qos_enabled(trans) || gst_base_transform_is_passthrough(trans)) return false;
  GST_OBJECT_LOCK(self);
  const GstClockTime configured = self->upstream_live ? self->configured_latency : GST_CLOCK_TIME_NONE;
  GstClock* clock = GST_ELEMENT_CLOCK(self) != nullptr ? GST_ELEMENT_CLOCK(self) : nullptr;
  if (clock != nullptr) gst_object_ref(clock);
  const GstClockTime base_time = GST_ELEMENT_CAST(self)->base_time;
  const gboolean playing = GST_STATE(self) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK(self);
  if (clock == nullptr) return false;
  const GstClockTime now = gst_clock_get_time(clock);
  gst_object_unref(clock);
  const GstClockTime ours = self->latency->expected();
  if (!playing || !GST_CLOCK_TIME_IS_VALID(configured) || ours == 0 || trans->segment.format != GST_FORMAT_TIME)
    return false;
  const GstClockTime running = gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
  if (!GST_CLOCK_TIME_IS_VALID(running) || now < base_time) return false;
  const bool late = (now - base_time) + ours > running + configured;
  if (late)
    GST_LOG_OBJECT(self, "dropping frame at %" GST_TIME_FORMAT ": cannot be in time", GST_TIME_ARGS(running));
  return late;
}

// The worker holds up to max-in-flight output buffers that downstream has not seen yet: ask the pool
// for that many more, so the streaming thread does not wait on the pool instead of on the queue.
static gboolean gst_derain_decide_allocation(GstBaseTransform* trans, GstQuery* query) {
  GstDerain* self = GST_DERAIN(trans);
  if (self->stream != nullptr && self->stream->worker && gst_query_get_n_allocation_pools(query) > 0) {
    GstBufferPool* pool = nullptr;
    guint size, min, max;
    gst_query_parse_nth_allocation_pool(query, 0, &pool, &size, &min, &max);
    min += static_cast<guint>(self->stream->max_in_flight);
    if (max != 0 && max < min) max = min;
    gst_query_set_nth_allocation_pool(query, 0, pool, size, min, max);
    if (pool != nullptr) gst_object_unref(pool);
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->decide_allocation(trans, query);
}

static void gst_derain_before_transform(GstBaseTransform* trans, GstBuffer* buffer) {
  const GstClockTime timestamp = GST_BUFFER_TIMESTAMP(buffer);
  const GstClockTime stream_time = gst_segment_to_stream_time(&trans->segment, GST_FORMAT_TIME, timestamp);
  GST_LOG_OBJECT(trans, "stream time %" GST_TIME_FORMAT, GST_TIME_ARGS(stream_time));
  if (GST_CLOCK_TIME_IS_VALID(stream_time)) gst_object_sync_values(GST_OBJECT(trans), stream_time);
  gst_derain_update_passthrough(GST_DERAIN(trans));
}

// The stream's temporal derainer, opened on its first frame (the colour order comes with the frames).
static derain::VideoStream& gst_derain_video(DerainStream* stream, derain::ColorOrder order) {
  if (!stream->video) {
    derain::VideoOptions options;
    options.temporal_window = stream->temporal_window;
    options.lookahead = stream->lookahead;
    options.color_order = order;
    stream->video = derain::inferenceLibrary().openVideo(stream->engine, options);
  }
  return *stream->video;
}

// Maps input for reading and output for writing as frames of in_info / out_info; on failure posts
// the error, leaves nothing mapped and returns false.
static bool gst_derain_map_frames(GstDerain* self, const GstVideoInfo* in_info, GstBuffer* input,
    const GstVideoInfo* out_info, GstBuffer* output, GstVideoFrame* in_frame, GstVideoFrame* out_frame) {
  if (!gst_video_frame_map(in_frame, in_info, input, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("cannot map the input frame"));
    return false;
  }
  if (!gst_video_frame_map(out_frame, out_info, output, GST_MAP_WRITE)) {
    gst_video_frame_unmap(in_frame);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("cannot map the output frame"));
    return false;
  }
  return true;
}

// Writes the derained colour into out (the input frame `in`, its colour channels `colour`), blended
// with the input by strength; a 4th byte comes from in.
static void gst_derain_write_blended(DerainStream* stream, const cv::Mat& derained, const cv::Mat& colour,
    const cv::Mat& in, cv::Mat& out, double strength) {
  if (strength >= 1.0) {
    derain_gst::writeColour(derained, in, out);
  } else {
    cv::addWeighted(derained, strength, colour, 1.0 - strength, 0.0, stream->blended);
    derain_gst::writeColour(stream->blended, in, out);
  }
}

// Writes a derained frame (blended with the input by strength) into output, a buffer made for input.
static GstFlowReturn gst_derain_write_output(GstDerain* self, GstBuffer* input, GstBuffer* output,
    const cv::Mat& derained, double strength) {
  GstVideoFilter* filter = GST_VIDEO_FILTER(self);
  GstVideoFrame in_frame, out_frame;
  if (!gst_derain_map_frames(self, &filter->in_info, input, &filter->out_info, output, &in_frame, &out_frame))
    return GST_FLOW_ERROR;
  const cv::Mat in = derain_gst::frameMat(&in_frame);
  cv::Mat out = derain_gst::frameMat(&out_frame);
  // The input's colour only takes part in a blend (packing it would be a wasted copy otherwise).
  const cv::Mat colour = strength < 1.0 ? derain_gst::packedColour(in, self->stream->packed) : cv::Mat();
  gst_derain_write_blended(self->stream, derained, colour, in, out, strength);
  gst_video_frame_unmap(&out_frame);
  gst_video_frame_unmap(&in_frame);
  return GST_FLOW_OK;
}

// Look-ahead: pushes the outputs that became ready, oldest first, each in a buffer made from the
// oldest held frame (its timestamps, flags and metadata), followed by the events that came after it.
static GstFlowReturn gst_derain_push_ready(GstDerain* self, std::vector<cv::Mat>& ready) {
  GstBaseTransform* trans = GST_BASE_TRANSFORM(self);
  DerainStream* stream = self->stream;
  GST_OBJECT_LOCK(self);
  const double strength = self->strength;
  GST_OBJECT_UNLOCK(self);
  GstFlowReturn ret = GST_FLOW_OK;
  for (const cv::Mat& derained : ready) {
    bool after_gap = false;
    GstBuffer* in = stream->held.popFrame(&after_gap);
    if (in == nullptr) {  // one output per frame held: a mismatch is a bug, not a stream problem
      GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("an output without a held frame"));
      ret = GST_FLOW_ERROR;
      break;
    }
    GstBuffer* out = nullptr;
    ret = GST_BASE_TRANSFORM_CLASS(parent_class)->prepare_output_buffer(trans, in, &out);
    if (ret == GST_FLOW_OK && out == nullptr) ret = GST_FLOW_ERROR;
    if (ret == GST_FLOW_OK) ret = gst_derain_write_output(self, in, out, derained, strength);
    gst_buffer_unref(in);
    if (ret != GST_FLOW_OK) {
      if (out != nullptr) gst_buffer_unref(out);
      break;
    }
    if (after_gap) GST_BUFFER_FLAG_SET(out, GST_BUFFER_FLAG_DISCONT);
    ret = gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(trans), out);
    if (ret != GST_FLOW_OK) break;
    stream->held.pushEventsBeforeNextFrame(GST_BASE_TRANSFORM_SRC_PAD(trans));
  }
  ready.clear();
  if (ret != GST_FLOW_OK) {  // flushing, not linked, error: what is held will not go out in order now
    stream->held.clear();
    if (stream->video) stream->video->reset();
  }
  return ret;
}

// Look-ahead: lets out every held frame with the look-ahead there is, and the events after them.
static GstFlowReturn gst_derain_let_out_held(GstDerain* self) {
  DerainStream* stream = self->stream;
  if (stream == nullptr || stream->held.empty()) return GST_FLOW_OK;
  std::vector<cv::Mat> ready;
  try {
    if (stream->video) stream->video->flush(ready);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("%s", e.what()));
    stream->held.clear();
    return GST_FLOW_ERROR;
  }
  const GstFlowReturn ret = gst_derain_push_ready(self, ready);
  if (ret == GST_FLOW_OK) stream->held.pushEventsBeforeNextFrame(GST_BASE_TRANSFORM_SRC_PAD(GST_BASE_TRANSFORM(self)));
  return ret;
}

// Look-ahead: the queued frame is held back; the outputs it completes are pushed from here.
static GstFlowReturn gst_derain_generate_held_back(GstDerain* self, GstBuffer** outbuf) {
  GstBaseTransform* trans = GST_BASE_TRANSFORM(self);
  if (gst_base_transform_is_passthrough(trans)) {  // strength 0: what is held first, then this frame untouched
    const GstFlowReturn ret = gst_derain_let_out_held(self);
    if (ret != GST_FLOW_OK) return ret;
    return GST_BASE_TRANSFORM_CLASS(parent_class)->generate_output(trans, outbuf);
  }
  *outbuf = nullptr;
  GstBuffer* in = trans->queued_buf;
  trans->queued_buf = nullptr;
  if (in == nullptr) return GST_FLOW_OK;
  GstVideoFilter* filter = GST_VIDEO_FILTER(self);
  if (!filter->negotiated) {
    gst_buffer_unref(in);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, (nullptr), ("a frame came before the caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  DerainStream* stream = self->stream;
  if (!GST_CLOCK_TIME_IS_VALID(stream->frame_duration) && GST_BUFFER_DURATION_IS_VALID(in)) {
    stream->frame_duration = GST_BUFFER_DURATION(in);  // variable framerate: the buffers say
    gst_derain_update_held_back_latency(self);
  }
  // A DISCONT buffer (a gap, a seek without flush) ends the sequence: what is held goes out first.
  if (GST_BUFFER_FLAG_IS_SET(in, GST_BUFFER_FLAG_DISCONT)) {
    const GstFlowReturn ret = gst_derain_let_out_held(self);
    if (ret != GST_FLOW_OK) {
      gst_buffer_unref(in);
      return ret;
    }
    if (stream->video) stream->video->reset();
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &filter->in_info, in, GST_MAP_READ)) {
    gst_buffer_unref(in);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("cannot map the input frame"));
    return GST_FLOW_ERROR;
  }
  stream->held.pushFrame(in, self->discont_pending);
  self->discont_pending = FALSE;
  std::vector<cv::Mat> ready;
  try {
    const gint64 begin = g_get_monotonic_time();
    const cv::Mat colour = derain_gst::packedColour(derain_gst::frameMat(&frame), stream->packed);
    gst_derain_video(stream, derain_gst::colorOrder(GST_VIDEO_FRAME_FORMAT(&frame))).process(colour, ready);
    derain_gst::recordFrameTime(GST_ELEMENT(self), *self->latency,
        static_cast<GstClockTime>(g_get_monotonic_time() - begin) * GST_USECOND, 1);
  } catch (const std::exception& e) {
    gst_video_frame_unmap(&frame);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  }
  gst_video_frame_unmap(&frame);
  return gst_derain_push_ready(self, ready);
}

// Derains in_frame into out_frame (strength > 0) with the stream's engine and scratch images, and
// records the frame time. The streaming thread (no worker) or the worker calls it.
static GstFlowReturn gst_derain_process(GstDerain* self, GstVideoFrame* in_frame, GstVideoFrame* out_frame,
    double strength) {
  DerainStream* stream = self->stream;
  try {
    const cv::Mat in = derain_gst::frameMat(in_frame);
    cv::Mat out = derain_gst::frameMat(out_frame);
    const cv::Mat colour = derain_gst::packedColour(in, stream->packed);
    if (strength <= 0.0) {  // passthrough is being switched on: no need to run the network
      derain_gst::writeColour(colour, in, out);
      return GST_FLOW_OK;
    }

    const gint64 begin = g_get_monotonic_time();
    const derain::ColorOrder order = derain_gst::colorOrder(GST_VIDEO_FRAME_FORMAT(in_frame));
    if (stream->temporal_window > 0) {
      // A DISCONT buffer (a gap, a seek without flush) breaks the sequence like a flush does.
      if (GST_BUFFER_FLAG_IS_SET(in_frame->buffer, GST_BUFFER_FLAG_DISCONT)) stream->video.reset();
      std::vector<cv::Mat> ready;
      gst_derain_video(stream, order).process(colour, ready);
      if (ready.size() != 1) throw derain::Error("temporal deraining gave no frame");  // causal: always one
      stream->derained = ready.front();
    } else {
      stream->engine->derain(colour, stream->derained, order);
    }
    derain_gst::recordFrameTime(GST_ELEMENT(self), *self->latency,
        static_cast<GstClockTime>(g_get_monotonic_time() - begin) * GST_USECOND, stream->max_in_flight);

    gst_derain_write_blended(stream, stream->derained, colour, in, out, strength);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  } catch (...) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Deraining a frame failed."), ("unknown exception"));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static GstFlowReturn gst_derain_transform_frame(GstVideoFilter* filter, GstVideoFrame* in_frame,
    GstVideoFrame* out_frame) {
  GstDerain* self = GST_DERAIN(filter);
  GST_OBJECT_LOCK(self);
  const double strength = self->strength;
  GST_OBJECT_UNLOCK(self);
  return gst_derain_process(self, in_frame, out_frame, strength);
}

static GstFlowReturn gst_derain_submit_input_buffer(GstBaseTransform* trans, gboolean is_discont, GstBuffer* input) {
  GstDerain* self = GST_DERAIN(trans);
  derain_gst::FrameWorker* worker = gst_derain_worker(self);
  // Renegotiation (e.g. passthrough switched) may change caps and pool: after the queued frames.
  if (worker != nullptr && gst_pad_needs_reconfigure(GST_BASE_TRANSFORM_SRC_PAD(trans))) worker->drain();
  const bool pushes_itself = worker != nullptr || (self->stream != nullptr && self->stream->lookahead > 0);
  if (gst_derain_too_late(self, input)) {
    gst_buffer_unref(input);
    if (pushes_itself) self->discont_pending = TRUE;
    // No QoS message is posted for these (the base class posts one for its own drops).
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  const GstFlowReturn ret = GST_BASE_TRANSFORM_CLASS(parent_class)->submit_input_buffer(trans, is_discont, input);
  // The base class marks the frame after a QoS drop DISCONT when it pushes it; with the worker, it
  // does not push: the element does it.
  if (pushes_itself && ret == GST_BASE_TRANSFORM_FLOW_DROPPED) self->discont_pending = TRUE;
  return ret;
}

// With a worker: the frame the base class queued goes to the worker with its output buffer (or on
// its own when passing through) and nothing is returned to push here; the worker pushes it.
static GstFlowReturn gst_derain_generate_output(GstBaseTransform* trans, GstBuffer** outbuf) {
  GstDerain* self = GST_DERAIN(trans);
  derain_gst::FrameWorker* worker = gst_derain_worker(self);
  if (self->stream != nullptr && self->stream->lookahead > 0) return gst_derain_generate_held_back(self, outbuf);
  if (worker == nullptr) return GST_BASE_TRANSFORM_CLASS(parent_class)->generate_output(trans, outbuf);

  *outbuf = nullptr;
  GstBuffer* in = trans->queued_buf;
  trans->queued_buf = nullptr;
  if (in == nullptr) return GST_FLOW_OK;

  const gboolean passthrough = gst_base_transform_is_passthrough(trans);
  GstVideoFilter* filter = GST_VIDEO_FILTER(trans);
  if (!filter->negotiated && !passthrough) {
    gst_buffer_unref(in);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, (nullptr), ("a frame came before the caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  // Output buffer from the pool with the input's timestamps, flags and metadata (or the input itself
  // when passing through), exactly as without the worker.
  GstBuffer* out = nullptr;
  const GstFlowReturn ret = GST_BASE_TRANSFORM_CLASS(parent_class)->prepare_output_buffer(trans, in, &out);
  if (ret != GST_FLOW_OK || out == nullptr) {
    if (out != nullptr && out != in) gst_buffer_unref(out);
    gst_buffer_unref(in);
    return ret != GST_FLOW_OK ? ret : GST_FLOW_ERROR;
  }
  if (self->discont_pending) {
    if (out == in) {
      in = out = gst_buffer_make_writable(out);
    }
    GST_BUFFER_FLAG_SET(out, GST_BUFFER_FLAG_DISCONT);
    self->discont_pending = FALSE;
  }
  if (out == in) return worker->submit(in, in, nullptr);

  GST_OBJECT_LOCK(self);
  const double strength = self->strength;
  GST_OBJECT_UNLOCK(self);
  const GstVideoInfo in_info = filter->in_info, out_info = filter->out_info;
  auto work = [self, strength, in_info, out_info](GstBuffer* input, GstBuffer* output) {
    GstVideoFrame in_frame, out_frame;
    if (!gst_derain_map_frames(self, &in_info, input, &out_info, output, &in_frame, &out_frame))
      return GST_FLOW_ERROR;
    const GstFlowReturn result = gst_derain_process(self, &in_frame, &out_frame, strength);
    gst_video_frame_unmap(&out_frame);
    gst_video_frame_unmap(&in_frame);
    return result;
  };
  // A live source must not be blocked (it falls behind its clock and every frame it makes then is
  // late): with QoS on, a waiting frame gives way to the newer one instead.
  GST_OBJECT_LOCK(self);
  const bool live = self->upstream_live;
  GST_OBJECT_UNLOCK(self);
  if (live && gst_base_transform_is_qos_enabled(trans)) {
    int dropped = 0;
    const GstFlowReturn submitted = worker->submitReplacingWaiting(in, out, std::move(work), &dropped);
    if (dropped > 0) GST_DEBUG_OBJECT(self, "live: a waiting frame gave way to a newer one");
    return submitted;
  }
  return worker->submit(in, out, std::move(work));
}
