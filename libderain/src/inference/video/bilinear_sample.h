// Bilinear sampling of a float image at one position, bit for bit as cv::remap(src, dst, map, noArray(),
// INTER_LINEAR, border) samples it with a CV_32FC2 map: the position rounded to 1/32 pixel (round half
// to even), the four weights of that grid, the products summed in cv::remap's order. A pass that samples
// a field and computes on the sample (a chained flow, the round-trip check) then runs as one loop over
// the pixels, without a map and a sampled image written and read back in between.
#pragma once

#include <opencv2/core.hpp>

namespace derain::detail {

enum class SampleBorder {
  kReplicate,  // cv::BORDER_REPLICATE
  kConstant,   // cv::BORDER_CONSTANT with the sampler's constant
};

class BilinearSampler {
 public:
  static constexpr int kTableBits = 5;  // OpenCV's INTER_BITS: positions in 1/32 pixel
  static constexpr int kTableSize = 1 << kTableBits;

  // src: CV_32FC1 or CV_32FC2; its pixels are read in place (it must outlive the sampler).
  BilinearSampler(const cv::Mat& src, SampleBorder border, float constant = 0.0f)
      : data_(src.data), step_(src.step[0]), width_(src.cols), height_(src.rows), channels_(src.channels()),
        border_(border), constant_(constant) {
    CV_Assert((src.type() == CV_32FC1 || src.type() == CV_32FC2) && !src.empty());
  }

  // A position as remap holds it: the whole pixel (saturated to short) and the 1/32-pixel fraction
  // in each direction, rounded half to even as remap rounds a float map.
  struct FixedPoint {
    int x, y, fraction_x, fraction_y;
  };
  static FixedPoint fixedPoint(float x, float y) {
    const int fixed_x = cvRound(x * kTableSize), fixed_y = cvRound(y * kTableSize);
    return {cv::saturate_cast<short>(fixed_x >> kTableBits), cv::saturate_cast<short>(fixed_y >> kTableBits),
            fixed_x & (kTableSize - 1), fixed_y & (kTableSize - 1)};
  }

  // src's kChannels channels at (x, y), written to out.
  template <int kChannels>
  inline __attribute__((always_inline)) void sample(float x, float y, float* out) const {
    CV_DbgAssert(kChannels == channels_);
    const FixedPoint p = fixedPoint(x, y);
    const int sx = p.x, sy = p.y;
    // cv::remap's float table: the products of (1 - f, f) for f = i / 32, exact in float.
    const float ax = static_cast<float>(p.fraction_x) * (1.0f / kTableSize);
    const float ay = static_cast<float>(p.fraction_y) * (1.0f / kTableSize);
    const float w0 = (1.0f - ay) * (1.0f - ax), w1 = (1.0f - ay) * ax, w2 = ay * (1.0f - ax), w3 = ay * ax;
    const int width = width_, height = height_;
    if (static_cast<unsigned>(sx) < static_cast<unsigned>(width - 1) &&
        static_cast<unsigned>(sy) < static_cast<unsigned>(height - 1)) {
      const float* top = row(sy) + sx * kChannels;
      const float* bottom = row(sy + 1) + sx * kChannels;
      for (int c = 0; c < kChannels; ++c)
        out[c] = top[c] * w0 + top[c + kChannels] * w1 + bottom[c] * w2 + bottom[c + kChannels] * w3;
      return;
    }
    if (border_ == SampleBorder::kConstant && (sx >= width || sx + 1 < 0 || sy >= height || sy + 1 < 0)) {
      for (int c = 0; c < kChannels; ++c) out[c] = constant_;
      return;
    }
    // Near an edge: each corner clipped into the image (replicate), or the constant where it lies
    // outside (constant border).
    float constants[kChannels];
    for (int c = 0; c < kChannels; ++c) constants[c] = constant_;
    auto corner = [&](int px, int py) -> const float* {
      if (border_ == SampleBorder::kReplicate) return row(clip(py, height)) + clip(px, width) * kChannels;
      return px >= 0 && px < width && py >= 0 && py < height ? row(py) + px * kChannels : constants;
    };
    const float *v0 = corner(sx, sy), *v1 = corner(sx + 1, sy), *v2 = corner(sx, sy + 1), *v3 = corner(sx + 1, sy + 1);
    for (int c = 0; c < kChannels; ++c) out[c] = v0[c] * w0 + v1[c] * w1 + v2[c] * w2 + v3[c] * w3;
  }

 private:
  static int clip(int v, int size) { return v < 0 ? 0 : (v < size ? v : size - 1); }
  const float* row(int y) const { return reinterpret_cast<const float*>(data_ + static_cast<size_t>(y) * step_); }

  const uchar* data_;
  size_t step_;
  int width_, height_, channels_;
  SampleBorder border_;
  float constant_;
};

}  // namespace derain::detail
