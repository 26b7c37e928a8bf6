// Every property of both elements: its default, a set/get round trip, and the flags that say when
// it may change and whether a controller may drive it.
#include <string>
#include <vector>

#include <gst/gst.h>
#include <gtest/gtest.h>

namespace {

// A property, its default as gst_value_serialize writes it, and another value to set.
struct PropertyCase {
  const char* element;
  const char* name;
  const char* default_value;
  const char* new_value;
  bool controllable;
};

std::string serialized(GObject* object, const char* name) {
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(object), name);
  GValue value = G_VALUE_INIT;
  g_value_init(&value, spec->value_type);
  g_object_get_property(object, name, &value);
  gchar* text = nullptr;
  if (G_VALUE_HOLDS_STRING(&value)) {
    text = g_value_dup_string(&value);
  } else if (G_VALUE_HOLDS_ENUM(&value)) {
    GEnumClass* klass = G_ENUM_CLASS(g_type_class_peek(spec->value_type));
    GEnumValue* nick = g_enum_get_value(klass, g_value_get_enum(&value));
    text = g_strdup(nick != nullptr ? nick->value_nick : "(invalid)");
  } else {
    text = gst_value_serialize(&value);
  }
  std::string result = text != nullptr ? text : "(null)";
  g_free(text);
  g_value_unset(&value);
  return result;
}

class Properties : public ::testing::TestWithParam<PropertyCase> {};

TEST_P(Properties, DefaultRoundTripAndFlags) {
  const PropertyCase& p = GetParam();
  GstElement* element = gst_element_factory_make(p.element, nullptr);
  ASSERT_NE(element, nullptr);
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), p.name);
  ASSERT_NE(spec, nullptr) << p.element << " has no property " << p.name;
  EXPECT_STRNE(g_param_spec_get_blurb(spec), "") << "undocumented";

  EXPECT_EQ(serialized(G_OBJECT(element), p.name), p.default_value);
  gst_util_set_object_arg(G_OBJECT(element), p.name, p.new_value);
  EXPECT_EQ(serialized(G_OBJECT(element), p.name), p.new_value);
  if (G_IS_PARAM_SPEC_STRING(spec) && std::string(p.default_value) == "(null)")
    g_object_set(element, p.name, nullptr, nullptr);
  else
    gst_util_set_object_arg(G_OBJECT(element), p.name, p.default_value);
  EXPECT_EQ(serialized(G_OBJECT(element), p.name), p.default_value);

  EXPECT_EQ((spec->flags & GST_PARAM_CONTROLLABLE) != 0, p.controllable);
  EXPECT_TRUE(spec->flags & (GST_PARAM_MUTABLE_READY | GST_PARAM_MUTABLE_PLAYING));
  gst_object_unref(element);
}

// Values as gst_value_serialize writes them (doubles with 17 significant digits); enums by nick.
INSTANTIATE_TEST_SUITE_P(DerainAndRainmake, Properties, ::testing::Values(
    PropertyCase{"derain", "model", "(null)", "/models/lite.derain", false},
    PropertyCase{"derain", "device", "auto", "cuda", false},
    PropertyCase{"derain", "precision", "fp32", "bf16", false},
    PropertyCase{"derain", "tile-size", "0", "512", false},
    PropertyCase{"derain", "tile-overlap", "32", "48", false},
    PropertyCase{"derain", "threads", "0", "3", false},
    PropertyCase{"derain", "strength", "1", "0.25", true},
    PropertyCase{"rainmake", "mode", "procedural", "learned", false},
    PropertyCase{"rainmake", "model", "(null)", "/models/lite.derain", false},
    PropertyCase{"rainmake", "density", "0.050000000000000003", "0.125", true},
    PropertyCase{"rainmake", "angle", "0", "-12.5", true},
    PropertyCase{"rainmake", "angle-jitter", "4", "10", true},
    PropertyCase{"rainmake", "length", "30", "45.5", true},
    PropertyCase{"rainmake", "width", "1", "2.5", true},
    PropertyCase{"rainmake", "intensity", "0.5", "0.75", true},
    PropertyCase{"rainmake", "haze", "0", "0.25", true},
    PropertyCase{"rainmake", "mask-noise", "0", "0.5", true},
    PropertyCase{"rainmake", "seed", "0", "18446744073709551615", true}),
    [](const auto& info) {
      std::string name = std::string(info.param.element) + "_" + info.param.name;
      for (auto& c : name)
        if (c == '-') c = '_';
      return name;
    });

TEST(Properties, EnumsAcceptEveryDocumentedNick) {
  GstElement* derain = gst_element_factory_make("derain", nullptr);
  ASSERT_NE(derain, nullptr);
  for (const char* nick : {"auto", "cpu", "cuda"}) {
    gst_util_set_object_arg(G_OBJECT(derain), "device", nick);
    EXPECT_EQ(serialized(G_OBJECT(derain), "device"), nick);
  }
  for (const char* nick : {"fp32", "bf16", "auto"}) {
    gst_util_set_object_arg(G_OBJECT(derain), "precision", nick);
    EXPECT_EQ(serialized(G_OBJECT(derain), "precision"), nick);
  }
  gst_object_unref(derain);
}

}  // namespace
