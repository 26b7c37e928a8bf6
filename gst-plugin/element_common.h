// What the elements that run a libderain network share: the engine properties (model, device,
// precision, tile-size, tile-overlap, threads, model-instance-id) installed, stored and read by one
// set of functions whose specs take their defaults and ranges from derain::EngineOptions /
// engine_options.hpp; the refusal to change a READY-only property of a running element; and posting
// and answering the processing latency (processing_latency.h).
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

#include <derain/engine_options.hpp>

#include "gstderainenums.h"
#include "processing_latency.h"

namespace derain_gst {

// Offsets of the engine properties from the first property id an element reserves for them.
enum EngineProperty : guint {
  ENGINE_PROP_MODEL,
  ENGINE_PROP_DEVICE,
  ENGINE_PROP_PRECISION,
  ENGINE_PROP_TILE_SIZE,
  ENGINE_PROP_TILE_OVERLAP,
  ENGINE_PROP_THREADS,
  ENGINE_PROP_MODEL_INSTANCE_ID,
  ENGINE_PROP_COUNT,
};

// The engine properties' values; guarded by the element's object lock.
struct EngineSettings {
  gchar* model;
  GstDerainDevice device;
  GstDerainPrecision precision;
  gint tile_size;
  gint tile_overlap;
  gint threads;
  gchar* model_instance_id;  // NULL = "": the engine every element that names none shares
};

// Defaults (derain::EngineOptions' own, model and instance unset) / frees the strings.
void engineSettingsInit(EngineSettings* settings);
void engineSettingsClear(EngineSettings* settings);
// The options the settings describe.
derain::EngineOptions engineOptions(const EngineSettings& settings);

// Installs the seven engine properties with ids first_id + EngineProperty; model_blurb documents
// "model" (what it is for in this element). All are GST_PARAM_MUTABLE_READY.
void installEngineProperties(GObjectClass* klass, guint first_id, const char* model_blurb);

// set_property / get_property for prop_id when it is an engine property (returns false otherwise).
// Call with the object lock held.
bool setEngineProperty(EngineSettings* settings, guint first_id, guint prop_id, const GValue* value);
bool getEngineProperty(const EngineSettings& settings, guint first_id, guint prop_id, GValue* value);

// For set_property of a property read when the element starts (READY -> PAUSED): true, after a
// g_warning, when the element is PAUSED or PLAYING, in which case the caller keeps the old value.
// Call with the object lock held.
bool refuseWhileRunning(GstElement* element, GParamSpec* pspec);

// Records a frame's time and posts a latency message on element when the latency changed.
void recordFrameTime(GstElement* element, ProcessingLatency& latency, GstClockTime frame_ns, int frames_in_flight);

// A LATENCY query on the src pad: upstream's answer plus `ours` (min and, when bounded, max).
gboolean answerLatencyQuery(GstBaseTransform* trans, GstQuery* query, GstClockTime ours);

}  // namespace derain_gst
