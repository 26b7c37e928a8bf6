// Writes the fuzzers' seed corpora: valid model files of small architectures and the config texts
// of every preset. Usage: make_seeds MODEL_DIR CONFIG_DIR
#include <fstream>
#include <iostream>
#include <string>

#include "derain/config.hpp"
#include "derain/engine.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seeds MODEL_DIR CONFIG_DIR\n";
    return 2;
  }
  const std::string models = argv[1], configs = argv[2];
  derain::ModelConfig tiny = derain::ModelConfig::lite();
  tiny.attention.stages = 1;
  tiny.attention.channels = 4;
  tiny.attention.blocks = 1;
  tiny.generator.channels = 4;
  tiny.generator.dilations = {2};
  tiny.preset = "custom";
  derain::ModelConfig hybrid = tiny;
  hybrid.attention.block = derain::FeatureBlock::Hybrid;
  int index = 0;
  for (const auto& config : {tiny, hybrid}) {
    // The model seeds carry the harness's mode byte first (0: fix up size and CRC).
    const std::string raw = models + "/raw-" + std::to_string(index);
    derain::Engine::untrained(config, 1).save(raw);
    std::ifstream in(raw, std::ios::binary);
    std::ofstream out(models + "/seed-" + std::to_string(index) + ".bin", std::ios::binary);
    out.put('\0');
    out << in.rdbuf();
    in.close();
    std::remove(raw.c_str());
    std::ofstream(configs + "/config-" + std::to_string(index) + ".txt") << config.toText();
    ++index;
  }
  for (const char* preset : {"paper", "lite"})
    std::ofstream(configs + "/" + preset + ".txt") << derain::ModelConfig::fromPreset(preset).toText();
  std::cout << "seeds: " << index << " models, " << index + 2 << " configs\n";
  return 0;
}
