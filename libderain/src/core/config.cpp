#include "derain/config.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "derain/error.hpp"
#include "key_value.h"

namespace derain {

namespace {
constexpr int kGeneratorDownsampling = 4;  // two stride-2 convs: sides must divide by 4

std::string blockName(FeatureBlock b) { return b == FeatureBlock::Residual ? "residual" : "hybrid"; }

FeatureBlock parseBlock(const detail::KeyValueLine& kv) {
  if (kv.value == "residual") return FeatureBlock::Residual;
  if (kv.value == "hybrid") return FeatureBlock::Hybrid;
  throw Error("line " + std::to_string(kv.line) + ": '" + kv.key + "' must be residual or hybrid, got '" +
              kv.value + "'");
}

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("invalid model config: " + what);
}

// Shortest decimal text that reads back to the same double (0.2 stays "0.2").
std::string shortestText(double value) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}
}  // namespace

ModelConfig ModelConfig::paper() { return ModelConfig{}; }

ModelConfig ModelConfig::lite() {
  ModelConfig c;
  c.preset = "lite";
  // Attention at 1/4 resolution: rain streaks are long, thin and low-frequency along their length,
  // so a quarter-resolution mask upsampled bilinearly keeps their layout at 1/16 of the cost.
  c.attention.stages = 3;
  c.attention.channels = 16;
  c.attention.blocks = 1;
  c.attention.scale = 4;
  // Narrow generator: the receptive field of the paper's (dilations up to 8 at 1/4 res) at ~1/20 cost.
  c.generator.channels = 16;
  c.generator.first_kernel = 3;
  c.generator.pre_convs = 1;
  c.generator.dilations = {2, 4, 8};
  c.generator.post_convs = 1;
  // Space-to-depth by 2: every generator layer runs at a quarter of the pixels; no full-res convs.
  c.generator.unshuffle = 2;
  // Residual output: a short CPU training run starts from the identity instead of a grey image.
  c.generator.residual = true;
  c.discriminator.channels = 32;
  // The slope the shipped lite model's discriminators were trained with (before the paper preset
  // moved to the reference's 0.01); kept so that models/make-default-model.sh reproduces it.
  c.discriminator.leaky_slope = 0.2;
  return c;
}

ModelConfig ModelConfig::fromPreset(const std::string& name) {
  if (name == "paper") return paper();
  if (name == "lite") return lite();
  throw Error("unknown preset '" + name + "' (expected paper or lite)");
}

ModelConfig ModelConfig::fromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read model config file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return fromText(text.str());
  } catch (const Error& e) {
    throw Error("model config file '" + path + "': " + e.what());
  }
}

std::string ModelConfig::toText() const {
  std::ostringstream out;
  out << "preset = " << preset << "\n"
      << "attention.stages = " << attention.stages << "\n"
      << "attention.channels = " << attention.channels << "\n"
      << "attention.block = " << blockName(attention.block) << "\n"
      << "attention.blocks = " << attention.blocks << "\n"
      << "attention.scale = " << attention.scale << "\n"
      << "generator.channels = " << generator.channels << "\n"
      << "generator.first_kernel = " << generator.first_kernel << "\n"
      << "generator.pre_convs = " << generator.pre_convs << "\n"
      << "generator.dilations = ";
  for (size_t i = 0; i < generator.dilations.size(); ++i) out << (i ? ", " : "") << generator.dilations[i];
  out << "\n"
      << "generator.post_convs = " << generator.post_convs << "\n"
      << "generator.unshuffle = " << generator.unshuffle << "\n"
      << "generator.residual = " << (generator.residual ? "true" : "false") << "\n"
      << "discriminator.scales = " << discriminator.scales << "\n"
      << "discriminator.channels = " << discriminator.channels << "\n"
      << "discriminator.layers = " << discriminator.layers << "\n"
      << "discriminator.leaky_slope = " << shortestText(discriminator.leaky_slope) << "\n";
  return out.str();
}

ModelConfig ModelConfig::fromText(const std::string& text) {
  auto lines = detail::parseKeyValues(text);
  ModelConfig c = paper();
  for (const auto& kv : lines) {
    if (kv.key != "preset") continue;
    // "custom" names a config spelled out key by key (as toText writes it): start from paper.
    c = kv.value == "custom" ? paper() : fromPreset(kv.value);
    c.preset = kv.value;
  }
  bool edited = false;
  for (const auto& kv : lines) {
    const std::string& k = kv.key;
    if (k == "preset") continue;
    edited = true;
    if (k == "attention.stages") c.attention.stages = detail::parseIntValue(kv);
    else if (k == "attention.channels") c.attention.channels = detail::parseIntValue(kv);
    else if (k == "attention.block") c.attention.block = parseBlock(kv);
    else if (k == "attention.blocks") c.attention.blocks = detail::parseIntValue(kv);
    else if (k == "attention.scale") c.attention.scale = detail::parseIntValue(kv);
    else if (k == "generator.channels") c.generator.channels = detail::parseIntValue(kv);
    else if (k == "generator.first_kernel") c.generator.first_kernel = detail::parseIntValue(kv);
    else if (k == "generator.pre_convs") c.generator.pre_convs = detail::parseIntValue(kv);
    else if (k == "generator.dilations") c.generator.dilations = detail::parseIntList(kv);
    else if (k == "generator.post_convs") c.generator.post_convs = detail::parseIntValue(kv);
    else if (k == "generator.unshuffle") c.generator.unshuffle = detail::parseIntValue(kv);
    else if (k == "generator.residual") c.generator.residual = detail::parseBoolValue(kv);
    else if (k == "discriminator.scales") c.discriminator.scales = detail::parseIntValue(kv);
    else if (k == "discriminator.channels") c.discriminator.channels = detail::parseIntValue(kv);
    else if (k == "discriminator.layers") c.discriminator.layers = detail::parseIntValue(kv);
    else if (k == "discriminator.leaky_slope") c.discriminator.leaky_slope = detail::parseDoubleValue(kv);
    else throw Error("line " + std::to_string(kv.line) + ": unknown model config key '" + k + "'");
  }
  // A config that differs from its preset is no longer that preset; keep the name honest.
  if (edited && c.preset != "custom" && c != fromPreset(c.preset)) c.preset = "custom";
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  require(attention.stages >= 1 && attention.stages <= 32, "attention.stages must be 1..32");
  require(attention.channels >= 2 && attention.channels <= 1024 && attention.channels % 2 == 0,
          "attention.channels must be even, 2..1024");
  require(attention.blocks >= 0 && attention.blocks <= 64, "attention.blocks must be 0..64");
  require(attention.scale >= 1 && attention.scale <= 16, "attention.scale must be 1..16");
  require(generator.channels >= 2 && generator.channels <= 1024 && generator.channels % 2 == 0,
          "generator.channels must be even, 2..1024");
  require(generator.first_kernel >= 1 && generator.first_kernel <= 11 && generator.first_kernel % 2 == 1,
          "generator.first_kernel must be odd, 1..11");
  require(generator.pre_convs >= 0 && generator.pre_convs <= 32, "generator.pre_convs must be 0..32");
  require(generator.post_convs >= 0 && generator.post_convs <= 32, "generator.post_convs must be 0..32");
  require(generator.unshuffle >= 1 && generator.unshuffle <= 4, "generator.unshuffle must be 1..4");
  require(generator.dilations.size() <= 16, "at most 16 generator.dilations");
  for (int d : generator.dilations) require(d >= 1 && d <= 64, "generator.dilations must be 1..64");
  require(discriminator.scales >= 1 && discriminator.scales <= 6, "discriminator.scales must be 1..6");
  require(discriminator.channels >= 1 && discriminator.channels <= 512, "discriminator.channels must be 1..512");
  require(discriminator.layers >= 1 && discriminator.layers <= 6, "discriminator.layers must be 1..6");
  require(discriminator.leaky_slope >= 0.0 && discriminator.leaky_slope < 1.0,
          "discriminator.leaky_slope must be in [0, 1)");
}

int ModelConfig::sizeMultiple() const { return kGeneratorDownsampling * generator.unshuffle; }

bool ModelConfig::operator==(const ModelConfig& o) const {
  return toText() == o.toText();
}

}  // namespace derain
