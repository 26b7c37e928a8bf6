// rainmake's rain parameters follow a GstController over stream time: here density is ramped
// linearly from 0 at 0 s to 0.2 at 1 s.
#include <string>

#include <gst/check/gstharness.h>
#include <gst/controller/gstdirectcontrolbinding.h>
#include <gst/controller/gstinterpolationcontrolsource.h>
#include <gtest/gtest.h>

#include <derain/rain.hpp>

#include "gst_test_support.h"

namespace {

constexpr int kFps = 30;

TEST(RainmakeController, DensityFollowsALinearRamp) {
  const gst_test::Format format = gst_test::allFormats()[1];  // BGR
  const cv::Size size(40, 30);
  const std::string caps = gst_test::capsString(format, size.width, size.height, kFps);
  GstHarness* h = gst_test::harnessFor("rainmake", {"seed=100", "intensity=0.9"}, caps);

  GstControlSource* ramp = gst_interpolation_control_source_new();
  g_object_set(ramp, "mode", GST_INTERPOLATION_MODE_LINEAR, nullptr);
  gst_timed_value_control_source_set(GST_TIMED_VALUE_CONTROL_SOURCE(ramp), 0, 0.0);
  gst_timed_value_control_source_set(GST_TIMED_VALUE_CONTROL_SOURCE(ramp), GST_SECOND, 0.2);
  gst_object_add_control_binding(GST_OBJECT(h->element),
      gst_direct_control_binding_new_absolute(GST_OBJECT(h->element), "density", ramp));

  const cv::Mat input = gst_test::testImage(size.width, size.height, 3, 1);
  const int frames[] = {0, kFps / 2, kFps};  // at 0 s, 0.5 s, 1 s
  const double densities[] = {0.0, 0.1, 0.2};
  int rainy_values_before = -1;
  for (int i = 0; i < 3; ++i) {
    const int k = frames[i];
    GstBuffer* out = gst_harness_push_and_pull(h, gst_test::bufferFromImage(input, caps, k * GST_SECOND / kFps));
    ASSERT_NE(out, nullptr);
    const cv::Mat output = gst_test::imageFromBuffer(out, caps);
    gst_buffer_unref(out);

    double density = -1.0;
    g_object_get(h->element, "density", &density, nullptr);
    EXPECT_NEAR(density, densities[i], 1e-9) << "at frame " << k;

    derain::RainParams rain;
    rain.density = density;
    rain.intensity = 0.9;
    rain.seed = 100 + k;
    cv::Mat expected;
    derain::addRain(input, expected, rain);
    EXPECT_EQ(gst_test::differingValues(output, expected), 0) << "at frame " << k;

    const int rainy_values = gst_test::differingValues(output, input);
    if (i == 0) {
      EXPECT_EQ(rainy_values, 0) << "density 0 leaves the frame untouched";
    } else {
      EXPECT_GT(rainy_values, rainy_values_before) << "more rain as density grows";
    }
    rainy_values_before = rainy_values;
  }
  gst_object_unref(ramp);
  gst_harness_teardown(h);
}

}  // namespace
