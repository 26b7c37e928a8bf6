// Every property of both elements: its default, a set/get round trip, and the flags that say when
// it may change and whether a controller may drive it.
#include <string>
#include <vector>

#include <gst/gst.h>
#include <gtest/gtest.h>

#include <derain/engine_options.hpp>
#include <derain/rain.hpp>

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
    PropertyCase{"derain", "max-in-flight", "2", "4", false},
    PropertyCase{"derain", "grey-rain", "true", "false", false},
    PropertyCase{"derain", "bounded-rain", "true", "false", false},
    PropertyCase{"derain", "rain-strength", "1", "2.5", false},
    PropertyCase{"derain", "lookahead", "0", "2", false},
    PropertyCase{"rainmake", "mode", "procedural", "learned", false},
    PropertyCase{"rainmake", "model", "(null)", "/models/lite.derain", false},
    PropertyCase{"rainmake", "device", "auto", "cpu", false},
    PropertyCase{"rainmake", "precision", "fp32", "bf16", false},
    PropertyCase{"rainmake", "tile-size", "0", "512", false},
    PropertyCase{"rainmake", "tile-overlap", "32", "48", false},
    PropertyCase{"rainmake", "threads", "0", "3", false},
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
  for (const char* nick : {"fp32", "bf16", "int8", "auto"}) {
    gst_util_set_object_arg(G_OBJECT(derain), "precision", nick);
    EXPECT_EQ(serialized(G_OBJECT(derain), "precision"), nick);
  }
  gst_object_unref(derain);
}

// Learned rainmake runs its network like derain: the engine properties are the same specs (type,
// default, range, flags), built by one helper from derain::EngineOptions.
TEST(Properties, RainmakeEnginePropertiesAreDerains) {
  GstElement* derain_element = gst_element_factory_make("derain", nullptr);
  GstElement* rainmake_element = gst_element_factory_make("rainmake", nullptr);
  ASSERT_NE(derain_element, nullptr);
  ASSERT_NE(rainmake_element, nullptr);
  GObjectClass* derain = G_OBJECT_GET_CLASS(derain_element);
  GObjectClass* rainmake = G_OBJECT_GET_CLASS(rainmake_element);
  for (const char* name : {"model", "device", "precision", "tile-size", "tile-overlap", "threads"}) {
    GParamSpec* a = g_object_class_find_property(derain, name);
    GParamSpec* b = g_object_class_find_property(rainmake, name);
    ASSERT_NE(a, nullptr) << name;
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(G_PARAM_SPEC_TYPE(a), G_PARAM_SPEC_TYPE(b)) << name;
    EXPECT_EQ(a->value_type, b->value_type) << name;
    EXPECT_EQ(a->flags, b->flags) << name;
    EXPECT_EQ(g_param_values_cmp(a, g_param_spec_get_default_value(a), g_param_spec_get_default_value(b)), 0) << name;
    if (G_IS_PARAM_SPEC_INT(a)) {
      EXPECT_EQ(G_PARAM_SPEC_INT(a)->minimum, G_PARAM_SPEC_INT(b)->minimum) << name;
      EXPECT_EQ(G_PARAM_SPEC_INT(a)->maximum, G_PARAM_SPEC_INT(b)->maximum) << name;
    }
  }
  EXPECT_EQ(G_PARAM_SPEC_INT(g_object_class_find_property(derain, "threads"))->maximum, derain::kMaxThreads);
  EXPECT_EQ(G_PARAM_SPEC_INT(g_object_class_find_property(derain, "tile-overlap"))->default_value,
            derain::EngineOptions().tile_overlap);
  gst_object_unref(derain_element);
  gst_object_unref(rainmake_element);
}

// The rain parameters' defaults are derain::RainParams' own.
TEST(Properties, RainmakeDefaultsAreRainParams) {
  GstElement* element = gst_element_factory_make("rainmake", nullptr);
  ASSERT_NE(element, nullptr);
  GObjectClass* rainmake = G_OBJECT_GET_CLASS(element);
  const derain::RainParams defaults;
  const std::pair<const char*, double> expected[] = {
      {"density", defaults.density}, {"angle", defaults.angle}, {"angle-jitter", defaults.angle_jitter},
      {"length", defaults.length},   {"width", defaults.width}, {"intensity", defaults.intensity},
      {"haze", defaults.haze}};
  for (const auto& [name, value] : expected)
    EXPECT_EQ(G_PARAM_SPEC_DOUBLE(g_object_class_find_property(rainmake, name))->default_value, value) << name;
  gst_object_unref(element);
}

TEST(Properties, BothElementsDoQos) {
  for (const char* factory : {"derain", "rainmake"}) {
    GstElement* element = gst_element_factory_make(factory, nullptr);
    ASSERT_NE(element, nullptr);
    gboolean qos = FALSE;
    g_object_get(element, "qos", &qos, nullptr);
    EXPECT_TRUE(qos) << factory;
    gst_object_unref(element);
  }
}

}  // namespace
