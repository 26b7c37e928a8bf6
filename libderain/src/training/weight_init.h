// How a training run initialises its networks.
//   paper: every conv weight N(0, 0.02), biases 0 (the paper's and DCGAN's choice).
//   he:    He-normal weights, std sqrt(2 / fan_in), biases 0; the output conv of a residual generator
//          starts at 0, so G_N and G_R begin as the exact identity.
// Why "he" exists: the lite generators and U-ARSE have no normalisation layers, so with N(0, 0.02)
// every conv shrinks the signal (total weight std 0.24-0.48 per output for 16-64 input channels):
// an untrained lite G_N changes a [0, 1] image by ~0.0003 on average, and gradients shrink alike.
#pragma once

#include <cstdint>
#include <string>

#include "networks.h"

namespace derain::detail {

enum class WeightInit { Paper, He };

WeightInit parseWeightInit(const std::string& name);  // "paper" or "he"; throws derain::Error otherwise
std::string toString(WeightInit init);

// Deterministic for a seed (draws from one CPU generator in parameter order).
void initTrainingWeights(DerainCycleGANImpl& model, WeightInit init, uint64_t seed);

}  // namespace derain::detail
