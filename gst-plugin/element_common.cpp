#include "element_common.h"

namespace derain_gst {

void engineSettingsInit(EngineSettings* settings) {
  const derain::EngineOptions defaults;
  settings->model = nullptr;
  settings->device = gst_derain_device_from_derain(defaults.device);
  settings->precision = gst_derain_precision_from_derain(defaults.precision);
  settings->tile_size = defaults.tile_size;
  settings->tile_overlap = defaults.tile_overlap;
  settings->threads = defaults.threads;
  settings->model_instance_id = nullptr;
}

void engineSettingsClear(EngineSettings* settings) {
  g_free(settings->model);
  settings->model = nullptr;
  g_free(settings->model_instance_id);
  settings->model_instance_id = nullptr;
}

derain::EngineOptions engineOptions(const EngineSettings& settings) {
  derain::EngineOptions options;
  options.device = gst_derain_device_to_derain(settings.device);
  options.precision = gst_derain_precision_to_derain(settings.precision);
  options.tile_size = settings.tile_size;
  options.tile_overlap = settings.tile_overlap;
  options.threads = settings.threads;
  return options;
}

void installEngineProperties(GObjectClass* klass, guint first_id, const char* model_blurb) {
  const derain::EngineOptions defaults;
  const auto ready_flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                    GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(klass, first_id + ENGINE_PROP_MODEL,
      g_param_spec_string("model", "Model file", model_blurb, nullptr, ready_flags));
  g_object_class_install_property(klass, first_id + ENGINE_PROP_DEVICE,
      g_param_spec_enum("device", "Device", "Where the network runs; cuda fails to start when CUDA is unavailable",
          GST_TYPE_DERAIN_DEVICE, gst_derain_device_from_derain(defaults.device), ready_flags));
  g_object_class_install_property(klass, first_id + ENGINE_PROP_PRECISION,
      g_param_spec_enum("precision", "Precision", "Arithmetic of the network", GST_TYPE_DERAIN_PRECISION,
          gst_derain_precision_from_derain(defaults.precision), ready_flags));
  g_object_class_install_property(klass, first_id + ENGINE_PROP_TILE_SIZE,
      g_param_spec_int("tile-size", "Tile size",
          "Process frames in square tiles of this side (bounds memory on large frames); "
          "0 = automatic (whole frame up to 1920x1088 pixels, 768-pixel tiles above)",
          0, derain::kMaxTileSize, defaults.tile_size, ready_flags));
  g_object_class_install_property(klass, first_id + ENGINE_PROP_TILE_OVERLAP,
      g_param_spec_int("tile-overlap", "Tile overlap", "Pixels shared by neighbouring tiles, blended linearly to hide seams",
          0, derain::kMaxTileOverlap, defaults.tile_overlap, ready_flags));
  g_object_class_install_property(klass, first_id + ENGINE_PROP_THREADS,
      g_param_spec_int("threads", "Threads",
          "CPU threads of the network; 0 = every core. Elements with the same model and engine settings "
          "share one engine",
          0, derain::kMaxThreads, defaults.threads, ready_flags));
  g_object_class_install_property(klass, first_id + ENGINE_PROP_MODEL_INSTANCE_ID,
      g_param_spec_string("model-instance-id", "Model instance",
          "Elements share an engine only when they also name the same instance (unset: the one instance of "
          "every element that names none). A shared engine runs one frame at a time: elements with their own "
          "instances and threads=1 run frames at the same time, one per core",
          nullptr, ready_flags));
}

bool setEngineProperty(EngineSettings* settings, guint first_id, guint prop_id, const GValue* value) {
  if (prop_id < first_id || prop_id >= first_id + ENGINE_PROP_COUNT) return false;
  switch (prop_id - first_id) {
    case ENGINE_PROP_MODEL:
      g_free(settings->model);
      settings->model = g_value_dup_string(value);
      break;
    case ENGINE_PROP_DEVICE:
      settings->device = static_cast<GstDerainDevice>(g_value_get_enum(value));
      break;
    case ENGINE_PROP_PRECISION:
      settings->precision = static_cast<GstDerainPrecision>(g_value_get_enum(value));
      break;
    case ENGINE_PROP_TILE_SIZE:
      settings->tile_size = g_value_get_int(value);
      break;
    case ENGINE_PROP_TILE_OVERLAP:
      settings->tile_overlap = g_value_get_int(value);
      break;
    case ENGINE_PROP_THREADS:
      settings->threads = g_value_get_int(value);
      break;
    case ENGINE_PROP_MODEL_INSTANCE_ID:
      g_free(settings->model_instance_id);
      settings->model_instance_id = g_value_dup_string(value);
      break;
    default:
      return false;
  }
  return true;
}

bool getEngineProperty(const EngineSettings& settings, guint first_id, guint prop_id, GValue* value) {
  if (prop_id < first_id || prop_id >= first_id + ENGINE_PROP_COUNT) return false;
  switch (prop_id - first_id) {
    case ENGINE_PROP_MODEL:
      g_value_set_string(value, settings.model);
      break;
    case ENGINE_PROP_DEVICE:
      g_value_set_enum(value, settings.device);
      break;
    case ENGINE_PROP_PRECISION:
      g_value_set_enum(value, settings.precision);
      break;
    case ENGINE_PROP_TILE_SIZE:
      g_value_set_int(value, settings.tile_size);
      break;
    case ENGINE_PROP_TILE_OVERLAP:
      g_value_set_int(value, settings.tile_overlap);
      break;
    case ENGINE_PROP_THREADS:
      g_value_set_int(value, settings.threads);
      break;
    case ENGINE_PROP_MODEL_INSTANCE_ID:
      g_value_set_string(value, settings.model_instance_id);
      break;
    default:
      return false;
  }
  return true;
}

bool refuseWhileRunning(GstElement* element, GParamSpec* pspec) {
  if (GST_STATE(element) <= GST_STATE_READY) return false;
  // As filesrc does for its location: a visible warning, the value unchanged.
  g_warning("%s: changing '%s' while %s is not supported; set it in the READY or NULL state",
            GST_OBJECT_NAME(element), pspec->name, gst_element_state_get_name(GST_STATE(element)));
  GST_WARNING_OBJECT(element, "refused to change '%s' while running", pspec->name);
  return true;
}

void recordFrameTime(GstElement* element, ProcessingLatency& latency, GstClockTime frame_ns, int frames_in_flight) {
  if (!latency.record(frame_ns, frames_in_flight)) return;
  GST_INFO_OBJECT(element, "latency %" GST_TIME_FORMAT " (%d frame(s) of %" GST_TIME_FORMAT ")",
                  GST_TIME_ARGS(latency.latency()), frames_in_flight, GST_TIME_ARGS(frame_ns));
  gst_element_post_message(element, gst_message_new_latency(GST_OBJECT(element)));
}

gboolean answerLatencyQuery(GstBaseTransform* trans, GstQuery* query, GstClockTime ours) {
  if (!gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(trans), query)) return FALSE;
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(query, &live, &min, &max);
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID(max)) max += ours;
  GST_DEBUG_OBJECT(trans, "latency: ours %" GST_TIME_FORMAT ", total min %" GST_TIME_FORMAT, GST_TIME_ARGS(ours),
                   GST_TIME_ARGS(min));
  gst_query_set_latency(query, live, min, max);
  return TRUE;
}

}  // namespace derain_gst
