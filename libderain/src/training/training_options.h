// Hyper-parameters of a DerainCycleGAN training run (defaults: the paper's), their "train.*" keys
// in a config file, and the split of a config file into model and training parts.
#pragma once

#include <cstdint>
#include <string>

#include "derain/config.hpp"
#include "derain/rain.hpp"

namespace derain::detail {

// Smallest variance of a GMM loss component by default ([-1, 1] scale): a standard deviation of 1/8 of a
// grey level, a numeric guard only (TrainingOptions::gmm_variance_floor).
constexpr double kDefaultGmmVarianceFloor = 1e-6;

// Trade-off weights of the generator objective (paper, section 4: 1, 10, 10, 0.01, 10, 10).
struct LossWeights {
  double adversarial = 1.0;     // lambda_adv: LSGAN terms of G_N and G_R
  double attention = 10.0;      // lambda_att: L_att_r (only with attention_prior) + L_att_n
  double cycle = 10.0;          // lambda_cc: two-branch cycle L1
  double perceptual = 0.01;     // lambda_p: VGG16 features (only with a weights file)
  double gmm = 10.0;            // lambda_gmm: NLL of the rain layer under the EM-fitted mixture
  double reconstruction = 10.0; // lambda_r: ||Att(r) + n_r - r||^2
  // Not in the paper, off by default; see training/README.md ("Beyond the paper").
  double identity = 0.0;        // identity term: mean (G_N(Att(n), n) - n)^2 + mean (G_R(Att(r), r) - r)^2
  double synthetic = 0.0;       // mean (G_N(Att(s), s) - n)^2, s = procedural rain drawn over the clean crop n
};

struct TrainingOptions {
  int64_t iterations = 0;       // total iterations; 0 = derive from epochs
  int epochs = 400;             // used when iterations is 0; an epoch = the larger folder once
  double decay_start = 0.5;     // fraction of the run at constant lr before the linear decay to 0
  double lr = 1e-4;
  double beta1 = 0.5;
  double beta2 = 0.999;
  double weight_decay = 1e-4;
  int crop = 216;               // square random crop side; a multiple of the model's size multiple
  int batch = 1;
  int pool_size = 50;           // history pool of generated images per domain (0 = no pool)
  int gmm_components = 3;       // K of the GMM loss
  int gmm_em_iterations = 3;    // EM iterations per training step (warm-started)
  // Smallest variance of a GMM component ([-1, 1] scale), (0, 1]. The NLL of a removed layer smaller than
  // the floor's deviation hardly changes, so a floor at faint rain's size (1e-3: a deviation of about 4
  // grey levels) bounds the reward for a layer that shrinks to nothing. It does not by itself stop lite
  // from collapsing to the identity with the GMM term on (measured: training/README.md); the default is
  // the numeric guard it always was.
  double gmm_variance_floor = kDefaultGmmVarianceFloor;
  // Discriminator scales in the adversarial terms (losses/adversarial_loss.h): the reference code's
  // choice, G scored on the finest scale, D trained on the mean of its scales. "sum" for both is
  // pix2pixHD's, and what the shipped lite model was trained with.
  std::string g_adversarial_scales = "finest";  // finest | mean | sum
  std::string d_adversarial_scales = "mean";    // finest | mean | sum
  // L_att_r, the pull of a rainy image's mask towards a random prior on (0, 1) (mean 0.5). Off as in
  // the reference code: with the reconstruction term (Att(r) + n_r = r) it makes the removed layer
  // r - n_r a uniform ~0.5, against the zero-mean GMM on that same layer. L_att_n stays on.
  bool attention_prior = false;
  // With weight.gmm = 0 the term only costs time (an EM fit per step), so the steps skip it and log
  // nan, except every gmm_log_every-th iteration, which fits and logs it as before (0 = never).
  int gmm_log_every = 100;
  uint64_t seed = 0;            // weights init, sampling, crops, flips, priors, pools
  std::string init = "paper";   // weight initialisation: paper or he (training/weight_init.h)
  // Arithmetic of the forward passes: fp32, or bf16 (autocast: convolutions in bfloat16, weights,
  // gradients and Adam states kept in fp32; the backward follows the forward's types).
  std::string precision = "fp32";
  std::string vgg_weights;      // VGG16 features file of the perceptual loss; empty = loss off
  LossWeights weights;
  // Name of the recipe, recorded with recipeText() in the model file (one line; empty = named
  // from the objective: unpaired, or semi-supervised when the synthetic-pair term is on).
  std::string recipe;
  // Rain drawn over clean crops for the synthetic term ("train.synthetic.<field> = min:max").
  RainParamRanges synthetic_rain;
  // The synthetic term's pairs from disk instead ("train.synthetic.pairs"): a folder with rainy/ and
  // clean/ (training/image_pairs.h); empty = procedural rain over the clean crops.
  std::string synthetic_pairs;

  // Parses "train.<key> = value" lines (the prefix included); unknown train.* keys, bad values and
  // out-of-range settings throw derain::Error naming the line. Non-"train." lines are ignored.
  void applyText(const std::string& text);
  // Every key, one "train.<key> = value" line each; applyText(toText()) round-trips exactly.
  std::string toText() const;
  // One line for the model file's "recipe" meta (Engine::recipe()): the name, then the preset, run
  // length and every loss weight and setting that decides what the model learnt.
  std::string recipeText(const ModelConfig& model, bool perceptual_enabled) const;
  // Throws derain::Error if a setting is out of range (crop must also suit `model`).
  void validate(const ModelConfig& model) const;
};

// A trainer config file holds ModelConfig keys and train.* keys side by side.
struct TrainerConfigText {
  std::string model_text;     // the ModelConfig lines (train.* lines blanked, so line numbers hold)
  std::string training_text;  // the train.* lines (others blanked)
};
TrainerConfigText splitTrainerConfig(const std::string& text);

}  // namespace derain::detail
