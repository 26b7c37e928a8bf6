// Model configs: presets, the paper's parameter counts, text round trips and validation.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "derain/config.hpp"
#include "derain/error.hpp"
#include "networks.h"

using derain::ModelConfig;
using derain::detail::countParameters;

TEST(ModelConfig, PaperPresetHasThePublishedParameterCounts) {
  ModelConfig paper = ModelConfig::paper();
  derain::detail::DerainCycleGAN net(paper, true);
  EXPECT_EQ(countParameters(*net->att), 167809);
  EXPECT_EQ(countParameters(*net->g_n), 6066179);
  EXPECT_EQ(countParameters(*net->g_r), 6066179);
  EXPECT_EQ(countParameters(*net->d_n), 8271171);
  EXPECT_EQ(countParameters(*net->d_r), 8271171);
}

TEST(ModelConfig, HybridBlockIsSelectableAndDiffersFromResidual) {
  ModelConfig hybrid = ModelConfig::paper();
  hybrid.attention.block = derain::FeatureBlock::Hybrid;
  derain::detail::DerainCycleGAN net(hybrid, false);
  // Per block: two 3x3 32->32 (2 x 9248), dense 32->16, 48->16, 64->16 (4624 + 6928 + 9232),
  // fuse 1x1 80->32 (2592): 41872; five blocks replace the residual blocks' 5 x 18496.
  EXPECT_EQ(countParameters(*net->att), 167809 - 5 * 18496 + 5 * 41872);
}

TEST(ModelConfig, LiteIsMuchCheaperThanPaper) {
  derain::detail::DerainCycleGAN paper(ModelConfig::paper(), false), lite(ModelConfig::lite(), false);
  const int64_t paper_macs = derain::detail::inferenceMacs(ModelConfig::paper(), 640, 360);
  const int64_t lite_macs = derain::detail::inferenceMacs(ModelConfig::lite(), 640, 360);
  EXPECT_LT(lite_macs * 20, paper_macs);
  EXPECT_LT(countParameters(*lite) * 10, countParameters(*paper));
}

TEST(ModelConfig, PaperCostMatchesMethodDocument) {
  // docs/method.md: U-ARSE ~1.00 M and G ~0.50 M multiply-adds per pixel. At 256x256 (no padding):
  const int64_t pixels = 256 * 256;
  const int64_t per_pixel = derain::detail::inferenceMacs(ModelConfig::paper(), 256, 256) / pixels;
  // Attention 6 x 167,328 = 1,003,968; generator 496,736 (hand count of its layers).
  EXPECT_EQ(per_pixel, 1003968 + 496736);
}

TEST(ModelConfig, TextRoundTripsEveryPresetAndCustom) {
  for (ModelConfig c : {ModelConfig::paper(), ModelConfig::lite()}) {
    EXPECT_EQ(ModelConfig::fromText(c.toText()), c);
  }
  ModelConfig custom = ModelConfig::lite();
  custom.generator.dilations = {3, 5};
  custom.generator.residual = false;
  custom.attention.block = derain::FeatureBlock::Hybrid;
  custom.preset = "custom";
  ModelConfig back = ModelConfig::fromText(custom.toText());
  EXPECT_EQ(back, custom);
  EXPECT_EQ(back.generator.dilations, (std::vector<int>{3, 5}));
}

TEST(ModelConfig, EditedPresetIsRenamedCustom) {
  ModelConfig c = ModelConfig::fromText("preset = lite\nattention.stages = 4  # more stages\n");
  EXPECT_EQ(c.preset, "custom");
  EXPECT_EQ(c.attention.stages, 4);
  EXPECT_EQ(c.attention.scale, ModelConfig::lite().attention.scale);
  EXPECT_EQ(ModelConfig::fromText("preset = lite\n").preset, "lite");
}

TEST(ModelConfig, BadTextIsRejectedWithTheLine) {
  auto message = [](const std::string& text) {
    try {
      ModelConfig::fromText(text);
    } catch (const derain::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("preset = lite\nattention.stagez = 3\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("attention.stages = three\n").find("integer"), std::string::npos);
  EXPECT_NE(message("preset = huge\n").find("unknown preset"), std::string::npos);
  EXPECT_NE(message("attention.stages = 0\n").find("attention.stages"), std::string::npos);
  EXPECT_NE(message("attention.block = dense\n").find("residual or hybrid"), std::string::npos);
  EXPECT_NE(message("no equals sign\n").find("line 1"), std::string::npos);
}
