// The loss terms of one training iteration, in the order of the CSV log's columns.
#pragma once

#include <array>
#include <string>

namespace derain::detail {

struct StepLosses {
  double adversarial = 0;    // G side: LSGAN of D_N(n_r) and D_R(r_n) against "real"
  double attention_r = 0;    // L_att_r
  double attention_n = 0;    // L_att_n
  double cycle = 0;          // L_cc
  double perceptual = 0;     // L_p (0 when off)
  double gmm = 0;            // L_gmm
  double reconstruction = 0; // L_r
  double identity = 0;       // identity term (not in the paper; 0 when off)
  double synthetic = 0;      // synthetic-pair term (not in the paper; 0 when off)
  double generator = 0;      // weighted sum minimised by the G step
  double d_n = 0;            // D_N step loss: 0.5 (real + fake)
  double d_r = 0;            // D_R step loss

  static constexpr size_t kCount = 12;
  static const std::array<const char*, kCount>& names();  // CSV column names
  std::array<double, kCount> values() const;
};

}  // namespace derain::detail
