// Image quality the way deraining papers report it: PSNR and SSIM on the luma (Y) channel, computed
// exactly as the MATLAB evaluation scripts of the field do (Rain100L/H, Rain12, Rain800 tables):
//   Y    = rgb2ycbcr(im2double(img))(:,:,1) = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, R,G,B in [0,1]
//   PSNR = psnr(Y1, Y2) with peak 1 (identically: peak 255 on the 0..255 scale used here)
//   SSIM = Wang et al.'s ssim.m on 255*Y: 11x11 Gaussian window (sigma 1.5), K = (0.01, 0.03), L = 255,
//          'valid' filtering, after averaging-and-downsampling by f = max(1, round(min(H, W) / 256)).
// Y is kept in double precision (not rounded to uint8): that is the convention that reproduces the
// published rainy-input figures (Rain12 30.14 dB / 0.8554; uint8-rounded Y would give 30.13 / 0.8552).
// Torch-free: usable from any face without LibTorch headers.
#pragma once

#include "derain/export.hpp"

#include <opencv2/core.hpp>

#include "derain/types.hpp"

namespace derain {

// PSNR and SSIM of one image pair.
struct Quality {
  double psnr = 0.0;  // dB; +infinity for identical images
  double ssim = 0.0;  // mean SSIM, in [-1, 1]; exactly 1 for identical images
};

// Luma Y of MATLAB's rgb2ycbcr on [0,1] doubles, returned on the 0..255 scale: CV_64FC1 with values in
// [16, 235] for 8-bit colour input.
// image: CV_8UC3 / CV_8UC4 (0..255; alpha ignored) or CV_32FC3 / CV_64FC3 (0..1), channel order as given;
//        a 1-channel image (CV_8UC1 0..255, or float 0..1) is taken to be luma already and only rescaled.
// Throws derain::Error for empty images and other types.
DERAIN_API void lumaY(const cv::Mat& image, cv::Mat& y, ColorOrder order = ColorOrder::BGR);

// PSNR in dB of two same-size single-channel CV_64F images on the 0..255 scale (peak 255).
// +infinity when they are identical. Throws derain::Error on size/type mismatch.
DERAIN_API double psnrOfPlanes(const cv::Mat& a, const cv::Mat& b);

// Side of ssim.m's Gaussian window. Downsampling never takes an image of this size or more below it.
constexpr int kSsimWindow = 11;

// SSIM of two same-size single-channel CV_64F images on the 0..255 scale, exactly as ssim.m (see top).
// Images smaller than the 11x11 window (after downsampling) throw derain::Error, as ssim.m refuses them.
DERAIN_API double ssimOfPlanes(const cv::Mat& a, const cv::Mat& b);

// PSNR / SSIM on Y of two colour images of the same size and type (see lumaY for the accepted types).
// `result` is the image under test and `reference` the ground truth (the metrics are symmetric).
// Throws derain::Error naming the sizes on a mismatch.
DERAIN_API double psnrY(const cv::Mat& result, const cv::Mat& reference, ColorOrder order = ColorOrder::BGR);
DERAIN_API double ssimY(const cv::Mat& result, const cv::Mat& reference, ColorOrder order = ColorOrder::BGR);
// Both at once (converts to Y once).
DERAIN_API Quality qualityY(const cv::Mat& result, const cv::Mat& reference, ColorOrder order = ColorOrder::BGR);

}  // namespace derain
