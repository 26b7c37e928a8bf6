// A dilated convolution as an undilated one over a batch of sub-images (space-to-batch). A 3x3
// convolution dilated by d, stride 1, padded by d, over an H x W image equals the undilated 3x3
// convolution padded by 1 over each of the d*d sub-images of pixels (a + d*i, b + d*j): a tap d pixels
// away in the image is 1 away in its sub-image, and a tap outside the image is zero padding in both.
// It pays where oneDNN has no brgemm kernel for the dilated problem (2.6 in bf16: its jit kernel ran
// the generators' dilated convolutions at about half the speed of brgconv on the same sums). The
// sub-images are ceil(H/d) x ceil(W/d); a pixel beyond the image is zero, which the convolution reads
// like its padding, and its outputs are dropped. Torch-free: channels_last memory as plain bytes.
#pragma once

#include <cstdint>

namespace derain::detail {

struct SubImageGrid {
  int64_t factor = 1;          // d: the dilation, and the sub-image grid's step
  int64_t height = 0, width = 0;  // the image
  int64_t subHeight() const { return (height + factor - 1) / factor; }
  int64_t subWidth() const { return (width + factor - 1) / factor; }
};

// images x [height, width, pixel_bytes] -> (images * d * d) x [subHeight, subWidth, pixel_bytes], the
// sub-image of offsets (a, b) at batch index image * d * d + a * d + b.
void gatherSubImages(const void* src, void* dst, int64_t images, int64_t pixel_bytes, const SubImageGrid& grid);
// The inverse, for the convolution's outputs: each image pixel from its sub-image (pixels beyond the
// image dropped).
void scatterSubImages(const void* src, void* dst, int64_t images, int64_t pixel_bytes, const SubImageGrid& grid);

}  // namespace derain::detail
