// A missing, corrupt or absent model, or an unavailable device, makes the change to PAUSED fail with
// an error message that says which file and what to do; the element stays usable afterwards.
#include <string>
#include <vector>

#include <gst/gst.h>
#include <gtest/gtest.h>

#include <derain/engine.hpp>

#include "gst_test_support.h"

namespace {

struct StartOutcome {
  GstStateChangeReturn result = GST_STATE_CHANGE_SUCCESS;
  GQuark domain = 0;
  int code = 0;
  std::string message;  // user-facing text
  std::string debug;    // details for the developer
};

// Puts a lone element (in a pipeline, for its bus) into PAUSED and collects the error it posts.
StartOutcome goToPaused(const char* factory, const std::vector<std::string>& properties) {
  GstElement* pipeline = gst_pipeline_new(nullptr);
  GstElement* element = gst_element_factory_make(factory, nullptr);
  for (const auto& property : properties) {
    const size_t eq = property.find('=');
    gst_util_set_object_arg(G_OBJECT(element), property.substr(0, eq).c_str(), property.substr(eq + 1).c_str());
  }
  gst_bin_add(GST_BIN(pipeline), element);

  StartOutcome outcome;
  outcome.result = gst_element_set_state(pipeline, GST_STATE_PAUSED);
  GstBus* bus = gst_element_get_bus(pipeline);
  if (GstMessage* message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
    GError* error = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(message, &error, &debug);
    outcome.domain = error->domain;
    outcome.code = error->code;
    outcome.message = error->message;
    outcome.debug = debug != nullptr ? debug : "";
    g_error_free(error);
    g_free(debug);
    gst_message_unref(message);
  }
  gst_object_unref(bus);
  EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(pipeline);
  return outcome;
}

class ModelErrors : public ::testing::TestWithParam<const char*> {
 protected:
  // rainmake needs its model in learned mode only.
  std::vector<std::string> modelProperties(const std::string& model) const {
    std::vector<std::string> properties{"model=" + model};
    if (std::string(GetParam()) == "rainmake") properties.push_back("mode=learned");
    return properties;
  }
};

TEST_P(ModelErrors, MissingFileFailsWithResourceNotFoundNamingTheFile) {
  const std::string missing = gst_test::missingModelPath();
  const StartOutcome outcome = goToPaused(GetParam(), modelProperties(missing));
  EXPECT_EQ(outcome.result, GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(outcome.domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(outcome.code, GST_RESOURCE_ERROR_NOT_FOUND);
  EXPECT_NE(outcome.message.find(missing), std::string::npos) << outcome.message;
}

TEST_P(ModelErrors, CorruptFileFailsWithLibraryInitNamingTheFile) {
  const std::string corrupt = gst_test::corruptModelPath();
  const StartOutcome outcome = goToPaused(GetParam(), modelProperties(corrupt));
  EXPECT_EQ(outcome.result, GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(outcome.domain, GST_LIBRARY_ERROR);
  EXPECT_EQ(outcome.code, GST_LIBRARY_ERROR_INIT);
  EXPECT_NE(outcome.message.find(corrupt), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.debug.find(corrupt), std::string::npos) << "libderain's reason is in the debug text: "
                                                            << outcome.debug;
}

// Without the 'model' property the element loads the default model (DERAIN_MODEL, the installed or
// the source tree's shipped model); only when there is none does it fail, saying how to set one.
TEST_P(ModelErrors, WithoutAModelPropertyTheDefaultModelLoadsElseItFailsSayingHowToSetOne) {
  std::vector<std::string> properties;
  if (std::string(GetParam()) == "rainmake") properties.push_back("mode=learned");
  const StartOutcome outcome = goToPaused(GetParam(), properties);
  if (!derain::defaultModelPath().empty()) {
    EXPECT_NE(outcome.result, GST_STATE_CHANGE_FAILURE) << derain::defaultModelPath() << ": " << outcome.message;
    EXPECT_EQ(outcome.domain, 0u);
    return;
  }
  EXPECT_EQ(outcome.result, GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(outcome.domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(outcome.code, GST_RESOURCE_ERROR_NOT_FOUND);
  EXPECT_NE(outcome.debug.find("'model' property"), std::string::npos) << outcome.debug;
  EXPECT_NE(outcome.debug.find("DERAIN_MODEL"), std::string::npos) << outcome.debug;
}

TEST_P(ModelErrors, AfterAFailureAGoodModelStarts) {
  GstElement* element = gst_element_factory_make(GetParam(), nullptr);
  gst_object_ref_sink(element);
  for (const auto& property : modelProperties(gst_test::corruptModelPath()))
    gst_util_set_object_arg(G_OBJECT(element), property.substr(0, property.find('=')).c_str(),
                            property.substr(property.find('=') + 1).c_str());
  EXPECT_EQ(gst_element_set_state(element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(gst_element_set_state(element, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  g_object_set(element, "model", gst_test::liteModelPath().c_str(), nullptr);
  EXPECT_NE(gst_element_set_state(element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(gst_element_set_state(element, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(element);
}

INSTANTIATE_TEST_SUITE_P(Elements, ModelErrors, ::testing::Values("derain", "rainmake"));

TEST(RainmakeProcedural, NeedsNoModel) {
  const StartOutcome outcome = goToPaused("rainmake", {"model=" + gst_test::missingModelPath()});
  EXPECT_NE(outcome.result, GST_STATE_CHANGE_FAILURE) << outcome.message;
  EXPECT_EQ(outcome.domain, 0u);
}

TEST(DerainDevice, CudaWithoutCudaFailsWithLibraryInit) {
  if (derain::cudaAvailable()) GTEST_SKIP() << "this machine has CUDA";
  const StartOutcome outcome = goToPaused("derain", {"model=" + gst_test::liteModelPath(), "device=cuda"});
  EXPECT_EQ(outcome.result, GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(outcome.domain, GST_LIBRARY_ERROR);
  EXPECT_EQ(outcome.code, GST_LIBRARY_ERROR_INIT);
  EXPECT_NE(outcome.debug.find("device=auto"), std::string::npos) << outcome.debug;
}

TEST(DerainDevice, BadTilingFailsWithLibraryInit) {
  // libderain wants tile-overlap < tile-size / 2.
  const StartOutcome outcome =
      goToPaused("derain", {"model=" + gst_test::liteModelPath(), "tile-size=64", "tile-overlap=40"});
  EXPECT_EQ(outcome.result, GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(outcome.domain, GST_LIBRARY_ERROR);
  EXPECT_NE(outcome.debug.find("tile-overlap"), std::string::npos) << outcome.debug;
}

}  // namespace

namespace {

// An unreadable rain-reference makes learned rainmake fail to start, naming the file.
TEST(RainReferenceErrors, MissingReferenceFailsWithResourceOpenReadNamingTheFile) {
  const std::string missing = gst_test::tempPath("no-such-rain-reference.png");
  const StartOutcome outcome =
      goToPaused("rainmake", {"mode=learned", "model=" + gst_test::liteModelPath(), "rain-reference=" + missing});
  EXPECT_EQ(outcome.result, GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(outcome.domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(outcome.code, GST_RESOURCE_ERROR_OPEN_READ);
  EXPECT_NE(outcome.message.find(missing), std::string::npos) << outcome.message;
  // Procedural mode does not use it, so it does not read it either.
  EXPECT_NE(goToPaused("rainmake", {"rain-reference=" + missing}).result, GST_STATE_CHANGE_FAILURE);
}

}  // namespace
