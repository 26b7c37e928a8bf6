#include "training/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derain/error.hpp"
#include "training/atomic_file.h"

namespace derain::detail {

namespace {
constexpr int kMarginLeft = 80, kMarginRight = 190, kMarginTop = 30, kMarginBottom = 50;
constexpr int kTicks = 5;
constexpr size_t kMaxPoints = 1000;       // polyline vertices per term
constexpr double kSmoothingFraction = 0.02;  // running-mean window, as a fraction of the run so far
const int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Distinguishable colours (BGR), one per loss term.
const std::vector<cv::Scalar> kColours = {
    {180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214}, {189, 103, 148},
    {75, 86, 140},  {194, 119, 227}, {0, 0, 0},    {34, 189, 188}, {207, 190, 23}};

std::string tickLabel(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<double> runningMean(const std::vector<double>& v, size_t window) {
  std::vector<double> out(v.size());
  double sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    sum += v[i];
    if (i >= window) sum -= v[i - window];
    out[i] = sum / static_cast<double>(std::min(i + 1, window));
  }
  return out;
}
}  // namespace

namespace {
// Draws the terms `terms` of `series` into `area` of `img`: grid, tick labels, polylines, legend.
void drawPanel(cv::Mat& img, const cv::Rect& area, const std::vector<LossRow>& rows,
               const std::vector<std::vector<double>>& series, const std::vector<size_t>& terms,
               const std::string& title) {
  double lo = INFINITY, hi = -INFINITY;
  for (size_t t : terms)
    for (double v : series[t])
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) hi = lo + 1;
  const double x0 = static_cast<double>(rows.front().iteration);
  const double x1 = std::max(x0 + 1, static_cast<double>(rows.back().iteration));
  auto px = [&](double x) { return area.x + static_cast<int>(std::lround((x - x0) / (x1 - x0) * area.width)); };
  auto py = [&](double y) {
    return area.y + area.height - static_cast<int>(std::lround((y - lo) / (hi - lo) * area.height));
  };
  const cv::Scalar black(0, 0, 0), grid(225, 225, 225);
  for (int i = 0; i <= kTicks; ++i) {
    const double y = lo + (hi - lo) * i / kTicks, x = x0 + (x1 - x0) * i / kTicks;
    cv::line(img, {area.x, py(y)}, {area.x + area.width, py(y)}, grid, 1);
    cv::line(img, {px(x), area.y}, {px(x), area.y + area.height}, grid, 1);
    cv::putText(img, tickLabel(y), {5, py(y) + 4}, kFont, 0.4, black, 1, cv::LINE_AA);
    cv::putText(img, std::to_string(static_cast<long long>(std::llround(x))),
                {px(x) - 15, area.y + area.height + 16}, kFont, 0.4, black, 1, cv::LINE_AA);
  }
  cv::rectangle(img, area, black, 1);
  cv::putText(img, title, {area.x, area.y - 8}, kFont, 0.5, black, 1, cv::LINE_AA);

  // One polyline per term, at most kMaxPoints vertices.
  const size_t stride = std::max<size_t>(1, rows.size() / kMaxPoints);
  for (size_t t : terms) {
    std::vector<cv::Point> pts;
    for (size_t i = 0; i < rows.size(); i += stride)
      if (std::isfinite(series[t][i])) pts.emplace_back(px(static_cast<double>(rows[i].iteration)), py(series[t][i]));
    if (pts.size() == 1) cv::circle(img, pts[0], 2, kColours[t], cv::FILLED);
    if (pts.size() > 1) cv::polylines(img, pts, false, kColours[t], 1, cv::LINE_AA);
  }

  // Legend: a coloured sample line and the term's name with its latest raw value.
  const int lx = area.x + area.width + 12;
  for (size_t k = 0; k < terms.size(); ++k) {
    const size_t t = terms[k];
    const int y = area.y + 12 + static_cast<int>(k) * 20;
    cv::line(img, {lx, y}, {lx + 22, y}, kColours[t], 2);
    cv::putText(img, std::string(StepLosses::names()[t]) + " " + tickLabel(rows.back().values[t]), {lx + 28, y + 4},
                kFont, 0.4, black, 1, cv::LINE_AA);
  }
}
}  // namespace

cv::Mat drawLossPlot(const std::vector<LossRow>& rows, cv::Size size) {
  if (rows.empty()) throw Error("loss plot: no iterations logged yet");
  const size_t window = std::max<size_t>(1, static_cast<size_t>(kSmoothingFraction * rows.size()));
  std::vector<std::vector<double>> series(StepLosses::kCount);
  for (size_t t = 0; t < StepLosses::kCount; ++t) {
    std::vector<double> raw;
    for (const auto& r : rows) raw.push_back(r.values[t]);
    series[t] = runningMean(raw, window);
  }
  // The weighted generator objective is an order of magnitude above the single terms: it gets its
  // own panel below, so that the terms stay readable.
  std::vector<size_t> terms, total;
  for (size_t t = 0; t < StepLosses::kCount; ++t)
    (std::string(StepLosses::names()[t]) == "generator" ? total : terms).push_back(t);

  cv::Mat img(size, CV_8UC3, cv::Scalar(255, 255, 255));
  const int width = size.width - kMarginLeft - kMarginRight;
  const int height = size.height - 2 * kMarginTop - 2 * kMarginBottom + 20;
  const int upper = height * 3 / 5, lower = height - upper;
  const std::string smoothing = " (running mean of " + std::to_string(window) + ")";
  drawPanel(img, {kMarginLeft, kMarginTop, width, upper}, rows, series, terms, "loss terms" + smoothing);
  drawPanel(img, {kMarginLeft, kMarginTop + upper + kMarginBottom + 10, width, lower}, rows, series, total,
            "weighted generator objective" + smoothing);
  cv::putText(img, "iteration", {kMarginLeft + width / 2 - 30, size.height - 8}, kFont, 0.5, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  return img;
}

void writeLossPlot(const std::vector<LossRow>& rows, const std::string& path) {
  const cv::Mat plot = drawLossPlot(rows);
  replaceFileAtomically(path, [&](const std::string& temp) {
    if (!cv::imwrite(temp, plot)) throw Error("cannot write the loss plot '" + path + "'");
  });
}

}  // namespace derain::detail
