// Writes a model file with freshly initialised (untrained) weights. Its output is not derained;
// it exists so that the examples, the wrapper and a pipeline can be tried before a trained model
// is at hand.
#include <iostream>

#include <derain/engine.hpp>
#include <derain/error.hpp>

#include "cli_args.hpp"
#include "run_main.hpp"

namespace {
int run(int argc, char** argv) {
  derain::cli::ArgParser args("make_untrained_model",
                              "Write an untrained DerainCycleGAN model file (random weights, for plumbing tests).");
  args.option("output", "FILE", "model file to write", "", true);
  args.option("preset", "NAME", "architecture: lite (real-time CPU) or paper", "lite");
  args.option("seed", "N", "seed of the random weights", "1");
  args.parse(argc, argv);
  if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional()[0] + "'");
  const std::string preset = args.get("preset");
  if (preset != "lite" && preset != "paper") args.fail("unknown --preset '" + preset + "' (lite or paper)");
  const int seed = args.getInt("seed");
  if (seed < 0) args.fail("--seed must be >= 0");

  try {
    const derain::ModelConfig config = derain::ModelConfig::fromPreset(preset);
    derain::Engine engine = derain::Engine::untrained(config, static_cast<uint64_t>(seed));
    engine.save(args.get("output"));
    std::cout << "wrote " << args.get("output") << ": " << engine.describe() << "\n";
  } catch (const derain::Error& e) {
    std::cerr << "make_untrained_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("make_untrained_model", [&] { return run(argc, argv); });
}
