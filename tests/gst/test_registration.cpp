// Both elements are registered by the plugin built here, with the advertised formats and docs.
#include <string>
#include <vector>

#include <gst/gst.h>
#include <gtest/gtest.h>

#include "gst_test_support.h"

namespace {

// Caps of the element's pad template of the given direction, as a string.
std::string templateCaps(GstElementFactory* factory, GstPadDirection direction) {
  for (const GList* l = gst_element_factory_get_static_pad_templates(factory); l != nullptr; l = l->next) {
    auto* templ = static_cast<GstStaticPadTemplate*>(l->data);
    if (templ->direction != direction) continue;
    GstCaps* caps = gst_static_caps_get(&templ->static_caps);
    gchar* text = gst_caps_to_string(caps);
    std::string result = text;
    g_free(text);
    gst_caps_unref(caps);
    return result;
  }
  return "";
}

class Registration : public ::testing::TestWithParam<const char*> {};

TEST_P(Registration, ElementComesFromThePluginInTheBuildDir) {
  GstElementFactory* factory = gst_element_factory_find(GetParam());
  ASSERT_NE(factory, nullptr) << GetParam() << " is not registered (GST_PLUGIN_PATH=" << g_getenv("GST_PLUGIN_PATH")
                              << ")";
  GstPlugin* plugin = gst_plugin_feature_get_plugin(GST_PLUGIN_FEATURE(factory));
  ASSERT_NE(plugin, nullptr);
  EXPECT_STREQ(gst_plugin_get_name(plugin), "derain");
  EXPECT_STREQ(gst_plugin_get_license(plugin), "MIT/X11");  // one GStreamer knows, or it warns on load
  const char* build_dir = g_getenv("GST_PLUGIN_PATH");
  if (build_dir != nullptr) {  // not some installed copy
    EXPECT_TRUE(g_str_has_prefix(gst_plugin_get_filename(plugin), build_dir)) << gst_plugin_get_filename(plugin);
  }
  EXPECT_STREQ(gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS), "Filter/Effect/Video");
  EXPECT_NE(gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_DESCRIPTION), nullptr);
  EXPECT_EQ(gst_element_factory_get_num_pad_templates(factory), 2u);

  for (GstPadDirection direction : {GST_PAD_SINK, GST_PAD_SRC}) {
    const std::string caps = templateCaps(factory, direction);
    for (const auto& format : gst_test::allFormats())
      EXPECT_NE(caps.find(format.name), std::string::npos) << GetParam() << " lacks " << format.name;
  }
  gst_object_unref(plugin);
  gst_object_unref(factory);
}

INSTANTIATE_TEST_SUITE_P(Elements, Registration, ::testing::Values("derain", "rainmake"));

TEST(Registration, TheyAreVideoFiltersThatNegotiateTheirFormatsOnly) {
  for (const char* name : {"derain", "rainmake"}) {
    GstElement* element = gst_element_factory_make(name, nullptr);
    ASSERT_NE(element, nullptr) << name;
    EXPECT_TRUE(g_type_is_a(G_OBJECT_TYPE(element), g_type_from_name("GstVideoFilter"))) << name;
    GstPad* sink = gst_element_get_static_pad(element, "sink");
    GstCaps* i420 = gst_caps_from_string("video/x-raw,format=I420,width=8,height=6");
    GstCaps* rgbx = gst_caps_from_string("video/x-raw,format=RGBx,width=8,height=6,framerate=30/1");
    EXPECT_FALSE(gst_pad_query_accept_caps(sink, i420)) << name;
    EXPECT_TRUE(gst_pad_query_accept_caps(sink, rgbx)) << name;
    gst_caps_unref(i420);
    gst_caps_unref(rgbx);
    gst_object_unref(sink);
    gst_object_unref(element);
  }
}

}  // namespace
