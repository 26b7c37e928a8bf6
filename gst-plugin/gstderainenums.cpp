#include "gstderainenums.h"

GType gst_derain_device_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_DERAIN_DEVICE_AUTO, "CUDA when this build has it and a GPU is present, else the CPU", "auto"},
      {GST_DERAIN_DEVICE_CPU, "CPU", "cpu"},
      {GST_DERAIN_DEVICE_CUDA, "CUDA GPU (fails if the build or the machine lacks CUDA)", "cuda"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static("GstDerainDevice", values));
  return type;
}

GType gst_derain_precision_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_DERAIN_PRECISION_FP32, "32-bit float", "fp32"},
      {GST_DERAIN_PRECISION_BF16, "bfloat16 (emulated, so slower, where the hardware lacks it)", "bf16"},
      {GST_DERAIN_PRECISION_AUTO, "bf16 where the hardware does it natively, fp32 otherwise", "auto"},
      {GST_DERAIN_PRECISION_INT8, "bf16 with 8-bit integer convolutions (CPU with AVX-512 VNNI only)", "int8"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static("GstDerainPrecision", values));
  return type;
}

GType gst_rainmake_mode_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_RAINMAKE_MODE_PROCEDURAL, "Procedural rain streaks (no model needed)", "procedural"},
      {GST_RAINMAKE_MODE_LEARNED, "Learned rain from the model's rainmake generator G_R", "learned"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static("GstRainmakeMode", values));
  return type;
}

derain::Device gst_derain_device_to_derain(GstDerainDevice device) {
  switch (device) {
    case GST_DERAIN_DEVICE_CPU: return derain::Device::CPU;
    case GST_DERAIN_DEVICE_CUDA: return derain::Device::CUDA;
    default: return derain::Device::Auto;
  }
}

derain::Precision gst_derain_precision_to_derain(GstDerainPrecision precision) {
  switch (precision) {
    case GST_DERAIN_PRECISION_BF16: return derain::Precision::BF16;
    case GST_DERAIN_PRECISION_AUTO: return derain::Precision::Auto;
    case GST_DERAIN_PRECISION_INT8: return derain::Precision::INT8;
    default: return derain::Precision::FP32;
  }
}

GstDerainDevice gst_derain_device_from_derain(derain::Device device) {
  switch (device) {
    case derain::Device::CPU: return GST_DERAIN_DEVICE_CPU;
    case derain::Device::CUDA: return GST_DERAIN_DEVICE_CUDA;
    default: return GST_DERAIN_DEVICE_AUTO;
  }
}

GstDerainPrecision gst_derain_precision_from_derain(derain::Precision precision) {
  switch (precision) {
    case derain::Precision::BF16: return GST_DERAIN_PRECISION_BF16;
    case derain::Precision::Auto: return GST_DERAIN_PRECISION_AUTO;
    case derain::Precision::INT8: return GST_DERAIN_PRECISION_INT8;
    default: return GST_DERAIN_PRECISION_FP32;
  }
}
