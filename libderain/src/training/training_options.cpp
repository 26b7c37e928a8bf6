#include "training/training_options.h"

#include <array>
#include <cstdio>
#include <utility>
#include <sstream>

#include "derain/error.hpp"
#include "key_value.h"
#include "losses/adversarial_loss.h"
#include "training/weight_init.h"

namespace derain::detail {

namespace {
constexpr const char* kPrefix = "train.";

// Shortest text that reads back to the same double.
std::string exactText(double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("training options: " + what);
}

uint64_t parseUnsigned(const KeyValueLine& kv) {
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(kv.value, &used);
    if (used == kv.value.size() && kv.value[0] != '-') return v;
  } catch (const std::exception&) {
  }
  throw Error("line " + std::to_string(kv.line) + ": '" + kv.key + "' needs a non-negative integer, got '" +
              kv.value + "'");
}

// The rain fields the synthetic term draws from, by their config-key names.
const std::array<std::pair<const char*, ParamRange RainParamRanges::*>, 7> kRainFields{{
    {"density", &RainParamRanges::density},
    {"angle", &RainParamRanges::angle},
    {"angle_jitter", &RainParamRanges::angle_jitter},
    {"length", &RainParamRanges::length},
    {"width", &RainParamRanges::width},
    {"intensity", &RainParamRanges::intensity},
    {"haze", &RainParamRanges::haze},
}};

ParamRange parseRange(const KeyValueLine& kv) {
  try {
    return parseParamRange(kv.value);
  } catch (const Error& e) {
    throw Error("line " + std::to_string(kv.line) + ": '" + kv.key + "': " + e.what());
  }
}

std::string parseScales(const KeyValueLine& kv) {
  try {
    return toString(parseAdversarialScales(kv.value));
  } catch (const Error& e) {
    throw Error("line " + std::to_string(kv.line) + ": '" + kv.key + "': " + e.what());
  }
}

bool applyRainField(const KeyValueLine& kv, const std::string& key, RainParamRanges& ranges) {
  for (const auto& [name, field] : kRainFields)
    if (key == std::string("synthetic.") + name) {
      ranges.*field = parseRange(kv);
      return true;
    }
  return false;
}
}  // namespace

void TrainingOptions::applyText(const std::string& text) {
  for (const auto& kv : parseKeyValues(text)) {
    if (kv.key.rfind(kPrefix, 0) != 0) continue;
    const std::string k = kv.key.substr(6);
    if (k == "iterations") iterations = static_cast<int64_t>(parseUnsigned(kv));
    else if (k == "epochs") epochs = parseIntValue(kv);
    else if (k == "decay_start") decay_start = parseDoubleValue(kv);
    else if (k == "lr") lr = parseDoubleValue(kv);
    else if (k == "beta1") beta1 = parseDoubleValue(kv);
    else if (k == "beta2") beta2 = parseDoubleValue(kv);
    else if (k == "weight_decay") weight_decay = parseDoubleValue(kv);
    else if (k == "crop") crop = parseIntValue(kv);
    else if (k == "batch") batch = parseIntValue(kv);
    else if (k == "pool_size") pool_size = parseIntValue(kv);
    else if (k == "gmm.components") gmm_components = parseIntValue(kv);
    else if (k == "gmm.em_iterations") gmm_em_iterations = parseIntValue(kv);
    else if (k == "gmm.variance_floor") gmm_variance_floor = parseDoubleValue(kv);
    else if (k == "adversarial.g_scales") g_adversarial_scales = parseScales(kv);
    else if (k == "adversarial.d_scales") d_adversarial_scales = parseScales(kv);
    else if (k == "attention.prior") attention_prior = parseBoolValue(kv);
    else if (k == "gmm.log_every") gmm_log_every = parseIntValue(kv);
    else if (k == "seed") seed = parseUnsigned(kv);
    else if (k == "vgg_weights") vgg_weights = kv.value;
    else if (k == "recipe") recipe = kv.value;
    else if (k == "init") init = toString(parseWeightInit(kv.value));
    else if (k == "precision") precision = kv.value;
    else if (k == "weight.adversarial") weights.adversarial = parseDoubleValue(kv);
    else if (k == "weight.attention") weights.attention = parseDoubleValue(kv);
    else if (k == "weight.cycle") weights.cycle = parseDoubleValue(kv);
    else if (k == "weight.perceptual") weights.perceptual = parseDoubleValue(kv);
    else if (k == "weight.gmm") weights.gmm = parseDoubleValue(kv);
    else if (k == "weight.reconstruction") weights.reconstruction = parseDoubleValue(kv);
    else if (k == "weight.identity") weights.identity = parseDoubleValue(kv);
    else if (k == "weight.synthetic") weights.synthetic = parseDoubleValue(kv);
    else if (k == "synthetic.pairs") synthetic_pairs = kv.value;
    else if (applyRainField(kv, k, synthetic_rain)) continue;
    else throw Error("line " + std::to_string(kv.line) + ": unknown training key '" + kv.key + "'");
  }
}

std::string TrainingOptions::toText() const {
  std::ostringstream out;
  out << kPrefix << "iterations = " << iterations << "\n"
      << kPrefix << "epochs = " << epochs << "\n"
      << kPrefix << "decay_start = " << exactText(decay_start) << "\n"
      << kPrefix << "lr = " << exactText(lr) << "\n"
      << kPrefix << "beta1 = " << exactText(beta1) << "\n"
      << kPrefix << "beta2 = " << exactText(beta2) << "\n"
      << kPrefix << "weight_decay = " << exactText(weight_decay) << "\n"
      << kPrefix << "crop = " << crop << "\n"
      << kPrefix << "batch = " << batch << "\n"
      << kPrefix << "pool_size = " << pool_size << "\n"
      << kPrefix << "gmm.components = " << gmm_components << "\n"
      << kPrefix << "gmm.em_iterations = " << gmm_em_iterations << "\n"
      << kPrefix << "gmm.variance_floor = " << exactText(gmm_variance_floor) << "\n"
      << kPrefix << "gmm.log_every = " << gmm_log_every << "\n"
      << kPrefix << "adversarial.g_scales = " << g_adversarial_scales << "\n"
      << kPrefix << "adversarial.d_scales = " << d_adversarial_scales << "\n"
      << kPrefix << "attention.prior = " << (attention_prior ? "true" : "false") << "\n"
      << kPrefix << "seed = " << seed << "\n"
      << kPrefix << "vgg_weights = " << vgg_weights << "\n"
      << kPrefix << "init = " << init << "\n"
      << kPrefix << "recipe = " << recipe << "\n"
      << kPrefix << "precision = " << precision << "\n"
      << kPrefix << "weight.adversarial = " << exactText(weights.adversarial) << "\n"
      << kPrefix << "weight.attention = " << exactText(weights.attention) << "\n"
      << kPrefix << "weight.cycle = " << exactText(weights.cycle) << "\n"
      << kPrefix << "weight.perceptual = " << exactText(weights.perceptual) << "\n"
      << kPrefix << "weight.gmm = " << exactText(weights.gmm) << "\n"
      << kPrefix << "weight.reconstruction = " << exactText(weights.reconstruction) << "\n"
      << kPrefix << "weight.identity = " << exactText(weights.identity) << "\n"
      << kPrefix << "weight.synthetic = " << exactText(weights.synthetic) << "\n"
      << kPrefix << "synthetic.pairs = " << synthetic_pairs << "\n";
  for (const auto& [name, field] : kRainFields)
    out << kPrefix << "synthetic." << name << " = " << exactText((synthetic_rain.*field).min) << ":"
        << exactText((synthetic_rain.*field).max) << "\n";
  return out.str();
}

void TrainingOptions::validate(const ModelConfig& model) const {
  require(iterations >= 0, "iterations must be >= 0");
  require(iterations > 0 || epochs >= 1, "give a number of iterations or of epochs (>= 1)");
  require(decay_start >= 0.0 && decay_start <= 1.0, "decay_start must be in [0, 1]");
  require(lr > 0.0 && lr < 1.0, "lr must be in (0, 1)");
  require(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0, "beta1 and beta2 must be in [0, 1)");
  require(weight_decay >= 0.0, "weight_decay must be >= 0");
  require(init == "paper" || init == "he", "init must be paper or he, got '" + init + "'");
  require(precision == "fp32" || precision == "bf16", "precision must be fp32 or bf16, got '" + precision + "'");
  const int m = model.sizeMultiple();
  require(crop >= 16 && crop <= 4096 && crop % m == 0,
          "crop must be 16..4096 and a multiple of " + std::to_string(m) + " for this model, got " +
              std::to_string(crop));
  require(batch >= 1 && batch <= 256, "batch must be 1..256");
  require(pool_size >= 0 && pool_size <= 10000, "pool_size must be 0..10000");
  require(gmm_components >= 1 && gmm_components <= 16, "gmm.components must be 1..16");
  require(gmm_em_iterations >= 1 && gmm_em_iterations <= 100, "gmm.em_iterations must be 1..100");
  require(gmm_variance_floor > 0 && gmm_variance_floor <= 1, "gmm.variance_floor must be in (0, 1]");
  for (const std::string* scales : {&g_adversarial_scales, &d_adversarial_scales}) {
    try {
      parseAdversarialScales(*scales);
    } catch (const Error& e) {
      throw Error(std::string("training options: ") + e.what());
    }
  }
  require(recipe.find_first_of("\r\n#") == std::string::npos, "recipe must be one line without '#'");
  // The folder is named in the recipe line and the config text, so the same rule as the recipe's.
  require(synthetic_pairs.find_first_of("\r\n#") == std::string::npos,
          "synthetic.pairs must be one line without '#'");
  require(synthetic_pairs.empty() || weights.synthetic > 0,
          "synthetic.pairs (--pairs) needs the synthetic-pair term on (weight.synthetic, --w-synthetic > 0)");
  require(gmm_log_every >= 0, "gmm.log_every must be >= 0");
  const LossWeights& w = weights;
  require(w.adversarial >= 0 && w.attention >= 0 && w.cycle >= 0 && w.perceptual >= 0 && w.gmm >= 0 &&
              w.reconstruction >= 0 && w.identity >= 0 && w.synthetic >= 0,
          "loss weights must be >= 0");
  try {
    synthetic_rain.validate();
  } catch (const Error& e) {
    throw Error(std::string("training options: train.synthetic.*: ") + e.what());
  }
}

std::string TrainingOptions::recipeText(const ModelConfig& model, bool perceptual_enabled) const {
  // Short numbers ("0.2", not "0.20000000000000001"): this line is for people.
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  const LossWeights& w = weights;
  std::string name = recipe;
  if (name.empty())
    name = w.synthetic > 0 ? "semi-supervised (synthetic pairs)" : w.identity > 0 ? "unpaired + identity" : "unpaired";
  std::ostringstream out;
  out << name << ": " << model.preset << " preset, "
      << (iterations > 0 ? std::to_string(iterations) + " iterations" : std::to_string(epochs) + " epochs")
      << ", crop " << crop << ", batch " << batch << ", lr " << num(lr) << ", init " << init << "; adversarial "
      << num(w.adversarial) << " (G " << g_adversarial_scales << ", D " << d_adversarial_scales << " of "
      << model.discriminator.scales << " scales, slope " << num(model.discriminator.leaky_slope) << "), attention "
      << num(w.attention) << " (rainy prior " << (attention_prior ? "on" : "off") << "), cycle " << num(w.cycle)
      << ", perceptual " << (perceptual_enabled ? num(w.perceptual) : std::string("off")) << ", gmm " << num(w.gmm)
      << ", reconstruction " << num(w.reconstruction) << ", identity " << num(w.identity) << ", synthetic "
      << num(w.synthetic);
  // Which pairs the synthetic term learnt from.
  if (w.synthetic > 0)
    out << (synthetic_pairs.empty() ? std::string(" (procedural pairs)") : " (pairs from '" + synthetic_pairs + "')");
  if (precision != "fp32") out << "; " << precision << " forward";  // fp32 lines stay as they were
  return out.str();
}

TrainerConfigText splitTrainerConfig(const std::string& text) {
  TrainerConfigText out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    const bool is_training = first != std::string::npos && line.compare(first, 6, kPrefix) == 0;
    out.model_text += (is_training ? "" : line) + "\n";
    out.training_text += (is_training ? line : "") + "\n";
  }
  return out;
}

}  // namespace derain::detail
