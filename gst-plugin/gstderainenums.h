// GObject enum types of the derain plugin's properties, and their mapping to libderain's types.
#pragma once

#include <glib-object.h>

#include <derain/types.hpp>

typedef enum {
  GST_DERAIN_DEVICE_AUTO,
  GST_DERAIN_DEVICE_CPU,
  GST_DERAIN_DEVICE_CUDA,
} GstDerainDevice;

typedef enum {
  GST_DERAIN_PRECISION_FP32,
  GST_DERAIN_PRECISION_BF16,
  GST_DERAIN_PRECISION_AUTO,
  GST_DERAIN_PRECISION_INT8,
} GstDerainPrecision;

typedef enum {
  GST_RAINMAKE_MODE_PROCEDURAL,
  GST_RAINMAKE_MODE_LEARNED,
} GstRainmakeMode;

#define GST_TYPE_DERAIN_DEVICE (gst_derain_device_get_type())
#define GST_TYPE_DERAIN_PRECISION (gst_derain_precision_get_type())
#define GST_TYPE_RAINMAKE_MODE (gst_rainmake_mode_get_type())

GType gst_derain_device_get_type(void);
GType gst_derain_precision_get_type(void);
GType gst_rainmake_mode_get_type(void);

derain::Device gst_derain_device_to_derain(GstDerainDevice device);
derain::Precision gst_derain_precision_to_derain(GstDerainPrecision precision);
// The other way round: the property defaults come from derain::EngineOptions.
GstDerainDevice gst_derain_device_from_derain(derain::Device device);
GstDerainPrecision gst_derain_precision_from_derain(derain::Precision precision);
