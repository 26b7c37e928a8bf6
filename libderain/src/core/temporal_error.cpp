// Temporal error of a video result (see derain/temporal_metrics.hpp).
#include "derain/temporal_metrics.hpp"

#include <cmath>
#include <string>

#include "derain/error.hpp"

namespace derain {

namespace {

constexpr double kLevelsPer8Bit = 255.0;  // float frames are 0..1; the error is in 8-bit levels

std::string describe(const cv::Mat& m) {
  return std::to_string(m.cols) + "x" + std::to_string(m.rows) + " (" + cv::typeToString(m.type()) + ")";
}

void checkSequences(const std::vector<cv::Mat>& out, const std::vector<cv::Mat>& gt, const std::vector<cv::Mat>* masks) {
  if (out.size() != gt.size())
    throw Error("temporalError: " + std::to_string(out.size()) + " output frames but " + std::to_string(gt.size()) +
                " ground-truth frames");
  if (out.size() < 2) throw Error("temporalError: needs at least two frames, got " + std::to_string(out.size()));
  if (masks && masks->size() != out.size())
    throw Error("temporalError: " + std::to_string(masks->size()) + " masks for " + std::to_string(out.size()) + " frames");
  const cv::Mat& first = out[0];
  const int depth = first.depth(), channels = first.channels();
  if (first.empty() || (depth != CV_8U && depth != CV_32F) || channels < 1 || channels > 4)
    throw Error("temporalError: unsupported frame " + describe(first) + " (CV_8UC1/3/4 or CV_32FC1/3/4)");
  for (size_t t = 0; t < out.size(); ++t) {
    for (const cv::Mat* m : {&out[t], &gt[t]})
      if (m->size() != first.size() || m->type() != first.type())
        throw Error("temporalError: frame " + std::to_string(t) + " is " + describe(*m) + ", frame 0 is " +
                    describe(first));
    if (masks && t > 0 && ((*masks)[t].size() != first.size() || (*masks)[t].type() != CV_8UC1))
      throw Error("temporalError: mask " + std::to_string(t) + " is " + describe((*masks)[t]) +
                  ", expected CV_8UC1 of the frames' size");
  }
}

double meanError(const std::vector<cv::Mat>& out, const std::vector<cv::Mat>& gt, const std::vector<cv::Mat>* masks) {
  checkSequences(out, gt, masks);
  const double scale = out[0].depth() == CV_32F ? kLevelsPer8Bit : 1.0;
  const int channels = out[0].channels();
  double sum = 0.0, count = 0.0;
  cv::Mat o0, o1, g0, g1, diff;
  for (size_t t = 1; t < out.size(); ++t) {
    // (out_t - out_{t-1}) - (gt_t - gt_{t-1}) in double: no saturation of 8-bit differences.
    out[t - 1].convertTo(o0, CV_64F);
    out[t].convertTo(o1, CV_64F);
    gt[t - 1].convertTo(g0, CV_64F);
    gt[t].convertTo(g1, CV_64F);
    diff = cv::abs((o1 - o0) - (g1 - g0));
    if (masks) {
      const cv::Mat& mask = (*masks)[t];
      diff.setTo(cv::Scalar::all(0.0), mask == 0);  // uncounted pixels add nothing
      const cv::Scalar s = cv::sum(diff);
      for (int c = 0; c < channels; ++c) sum += s[c];
      count += static_cast<double>(cv::countNonZero(mask)) * channels;
    } else {
      const cv::Scalar s = cv::sum(diff);
      for (int c = 0; c < channels; ++c) sum += s[c];
      count += static_cast<double>(diff.total()) * channels;
    }
  }
  return count > 0 ? scale * sum / count : 0.0;
}

}  // namespace

double temporalError(const std::vector<cv::Mat>& output, const std::vector<cv::Mat>& ground_truth) {
  return meanError(output, ground_truth, nullptr);
}

double temporalError(const std::vector<cv::Mat>& output, const std::vector<cv::Mat>& ground_truth,
                     const std::vector<cv::Mat>& masks) {
  return meanError(output, ground_truth, &masks);
}

}  // namespace derain
