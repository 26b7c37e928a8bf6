// FlushDenormalsScope: denormals flushed on the caller and on LibTorch's intra-op workers inside the
// scope, nothing left behind after it.
#include <gtest/gtest.h>

#include <cfloat>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "denormals.h"
#include "derain/engine.hpp"
#include "runtime.h"

using derain::detail::FlushDenormalsScope;

namespace {
constexpr float kDenormal = FLT_MIN / 4;  // 2.9e-39: below the smallest normal float
constexpr int64_t kElements = 1 << 24;  // large enough for LibTorch to split the op across threads (1 << 20 is not)

// Made outside any scope: under flush-to-zero the scalar's conversion to float would already give 0.
const torch::Tensor& denormals() {
  static const torch::Tensor t = torch::full({kElements}, kDenormal);
  return t;
}

// denormal * 1 for every element: stays denormal without flushing, becomes 0 with it, on whichever
// thread computes that part.
torch::Tensor multiplyDenormals() { return denormals() * 1.0f; }

// Counted outside any scope: under denormals-are-zero the comparison itself would read them as 0.
int64_t nonZero(const torch::Tensor& t) {
  EXPECT_FALSE(FlushDenormalsScope::active());
  return t.ne(0).sum().item<int64_t>();
}
}  // namespace

TEST(Denormals, FlushedOnEveryWorkerInsideTheScopeOnly) {
  derain::detail::applyThreads(2);
  ASSERT_FALSE(FlushDenormalsScope::active());
  ASSERT_EQ(nonZero(denormals()), kElements);
  EXPECT_EQ(nonZero(multiplyDenormals()), kElements);
  torch::Tensor inside;
  {
    FlushDenormalsScope scope(2);
    EXPECT_TRUE(FlushDenormalsScope::active());
    inside = multiplyDenormals();
  }
  EXPECT_EQ(nonZero(inside), 0);                            // caller's and worker's halves
  EXPECT_EQ(nonZero(multiplyDenormals()), kElements);  // workers cleared too
}

TEST(Denormals, NestedScopesClearOnlyAtTheOutermost) {
  derain::detail::applyThreads(2);
  torch::Tensor after_inner;
  {
    FlushDenormalsScope outer(2);
    { FlushDenormalsScope inner(2); }
    EXPECT_TRUE(FlushDenormalsScope::active());
    after_inner = multiplyDenormals();
  }
  EXPECT_EQ(nonZero(after_inner), 0);
}

TEST(Denormals, EngineCallsLeaveTheCallersModeAlone) {
  derain::EngineOptions options;
  options.threads = 2;
  auto engine = derain::Engine::untrained(derain::ModelConfig::lite(), 1, options);
  cv::Mat frame(24, 32, CV_8UC3, cv::Scalar(10, 120, 240)), out;
  engine.derain(frame, out);
  EXPECT_EQ(nonZero(multiplyDenormals()), kElements);
}
