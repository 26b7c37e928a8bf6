// The plugin stays light until a network is needed: registering it (what every GStreamer
// application's registry scan does) and running the procedural `rainmake` must not load LibTorch;
// the `derain` element loads the inference library when it starts. This program links neither
// libderain nor LibTorch and registers the plugin in-process, from a fresh registry.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gst/gst.h>
#include <gtest/gtest.h>

namespace {

// Whether a shared object whose path contains `name` is mapped into this process.
bool mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(name) != std::string::npos) return true;
  return false;
}

// Plays a launch line to EOS; returns the error message, or "" on success.
std::string play(const std::string& launch) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(launch.c_str(), &error);
  if (!pipeline) {
    std::string message = error ? error->message : "parse failed";
    g_clear_error(&error);
    return message;
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                               static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  std::string result = msg ? "" : "timed out";
  if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    result = err ? err->message : "error";
    g_clear_error(&err);
  }
  if (msg) gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return result;
}

TEST(PluginLoading, RegistersAndRainsProcedurallyWithoutLibTorch) {
  ASSERT_FALSE(mapped("libtorch")) << "the test program itself must not link LibTorch";
  GstElementFactory* factory = gst_element_factory_find("rainmake");
  ASSERT_NE(factory, nullptr) << "plugin not registered (GST_PLUGIN_PATH?)";
  gst_object_unref(factory);
  EXPECT_TRUE(mapped("libgstderain")) << "the registry scan ran in-process, so the plugin is mapped";
  EXPECT_FALSE(mapped("libtorch")) << "registering the plugin loaded LibTorch";

  EXPECT_EQ(play("videotestsrc num-buffers=5 ! video/x-raw,format=RGB,width=64,height=48 ! "
                 "rainmake density=0.1 seed=3 ! fakesink"), "");
  EXPECT_FALSE(mapped("libtorch")) << "procedural rainmake loaded LibTorch";
  EXPECT_FALSE(mapped("libderain.so")) << "procedural rainmake loaded the inference library";
}

TEST(PluginLoading, DerainLoadsTheInferenceLibraryWhenItStarts) {
  if (!std::getenv("DERAIN_MODEL_DIR")) GTEST_SKIP() << "no DERAIN_MODEL_DIR (run through meson test)";
  EXPECT_EQ(play("videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=32,height=24 ! derain ! fakesink"), "");
  EXPECT_TRUE(mapped("libderain.so")) << "derain ran, so the inference library must be loaded";
  EXPECT_TRUE(mapped("libtorch"));
}

}  // namespace

int main(int argc, char** argv) {
  // A fresh registry, scanned in this process (no gst-plugin-scanner helper), so that what loading
  // the plugin maps shows up in this process's /proc/self/maps.
  char dir_template[] = "/tmp/derain-registry-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) return 1;
  const std::string registry = std::string(dir) + "/registry.bin";
  setenv("GST_REGISTRY", registry.c_str(), 1);
  setenv("GST_REGISTRY_FORK", "no", 1);
  gst_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  unlink(registry.c_str());
  rmdir(dir);
  return result;
}
