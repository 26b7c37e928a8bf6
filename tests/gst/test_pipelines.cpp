// Whole pipelines with the elements run to EOS (and stop with an error message, not a hang, when
// the model is bad).
#include <string>

#include <gst/gst.h>
#include <gtest/gtest.h>

#include "gst_test_support.h"

namespace {

using gst_test::RunResult;
using gst_test::runToEnd;

TEST(Pipelines, VideotestsrcDerainFakesinkReachesEos) {
  const RunResult result = runToEnd(
      "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=32,height=24 ! "
      "derain threads=1 model=\"" + gst_test::liteModelPath() + "\" ! fakesink name=sink");
  EXPECT_TRUE(result.eos) << result.error;
  EXPECT_EQ(result.buffers, 3);
}

TEST(Pipelines, RainmakeThenDerainWithConversionReachesEos) {
  const RunResult result = runToEnd(
      "videotestsrc num-buffers=4 ! video/x-raw,width=33,height=17 ! videoconvert ! rainmake seed=2 ! "
      "derain threads=1 strength=0.5 model=\"" + gst_test::liteModelPath() + "\" ! videoconvert ! "
      "video/x-raw,format=I420 ! fakesink name=sink");
  EXPECT_TRUE(result.eos) << result.error;
  EXPECT_EQ(result.buffers, 4);
}

TEST(Pipelines, CorruptModelStopsThePipelineWithAnError) {
  const RunResult result = runToEnd(
      "videotestsrc num-buffers=3 ! video/x-raw,format=BGRx,width=16,height=16 ! "
      "derain model=\"" + gst_test::corruptModelPath() + "\" ! fakesink name=sink");
  EXPECT_FALSE(result.eos);
  EXPECT_NE(result.error.find(gst_test::corruptModelPath()), std::string::npos) << result.error;
  EXPECT_EQ(result.buffers, 0);
}

}  // namespace
