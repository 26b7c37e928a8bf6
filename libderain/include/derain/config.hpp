// Architecture of a DerainCycleGAN model: U-ARSE attention, generators G_N / G_R and the
// multi-scale discriminators. Stored in every model file, so a file fully describes its networks.
#pragma once

#include "derain/export.hpp"

#include <string>
#include <vector>

namespace derain {

// Feature block inside each U-ARSE stage.
enum class FeatureBlock {
  Residual,  // reference code: two 3x3 convs with an identity skip
  Hybrid     // paper: dual-path block, a residual path beside a densely connected path, fused by 1x1
};

struct AttentionConfig {
  int stages = 6;                              // recurrent stages, same weights each stage
  int channels = 32;                           // ConvLSTM hidden / feature channels
  FeatureBlock block = FeatureBlock::Residual;
  int blocks = 5;                              // feature blocks per stage
  int scale = 1;                               // attention runs at 1/scale resolution; mask upsampled
};

struct GeneratorConfig {
  int channels = 64;                           // full-res width; 2x at 1/2 res, 4x at 1/4 res
  int first_kernel = 5;                        // kernel of the first full-res conv
  int pre_convs = 2;                           // plain 3x3 convs at 1/4 res before the dilated ones
  std::vector<int> dilations{2, 4, 8, 16};     // dilated 3x3 convs at 1/4 res
  int post_convs = 2;                          // plain 3x3 convs at 1/4 res after the dilated ones
  int unshuffle = 1;                           // space-to-depth factor f (FFDNet-style): the whole
                                               // generator runs at 1/f res on f*f*4 channels and its
                                               // f*f*3 outputs are pixel-shuffled back; 1 = paper
  bool residual = false;                       // output = image + G(...): identity at initialisation,
                                               // G only learns the (negative) rain layer; false = paper
};

struct DiscriminatorConfig {
  int scales = 3;                              // input average-pooled by 2 between scales
  int channels = 64;                           // first layer width, doubled each layer
  int layers = 4;                              // stride-2 4x4 convs per scale
  double leaky_slope = 0.01;                   // LeakyReLU negative slope after each conv: the
                                               // reference code's 0.01 (the paper gives none); lite
                                               // keeps the 0.2 (pix2pixHD's) its shipped model was
                                               // trained with. Training only: model files hold no D.
};

struct DERAIN_API ModelConfig {
  std::string preset = "paper";                // name it came from ("custom" once edited)
  AttentionConfig attention;
  GeneratorConfig generator;
  DiscriminatorConfig discriminator;

  // The published architecture. With the residual block its parameter counts are the reference
  // code's (U-ARSE 167,809, each G 6,066,179, each D 8,271,171); the paper gives no counts. The
  // `hybrid` block is this project's reading of the paper's description, not a reproduction.
  static ModelConfig paper();
  // Same method, sized for real-time CPU video: reduced-resolution attention, narrow generators.
  static ModelConfig lite();
  // "paper" or "lite"; anything else throws derain::Error.
  static ModelConfig fromPreset(const std::string& name);
  // Reads a config file in the text form; derain::Error naming the file on failure.
  static ModelConfig fromFile(const std::string& path);

  // Text form: "key = value" lines (e.g. "attention.stages = 6"), '#' starts a comment.
  // fromText starts from the preset named by a "preset" line (default paper; "custom" = paper as a
  // base for a fully spelled-out config) and applies the rest;
  // unknown keys and bad values throw derain::Error naming the line.
  std::string toText() const;
  static ModelConfig fromText(const std::string& text);

  // Throws derain::Error if any field is out of range.
  void validate() const;

  // Side lengths of an input must be multiples of this (the library pads and crops back).
  int sizeMultiple() const;

  bool operator==(const ModelConfig& other) const;
  bool operator!=(const ModelConfig& other) const { return !(*this == other); }
};

}  // namespace derain
