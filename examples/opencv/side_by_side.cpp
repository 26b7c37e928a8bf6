// Writes a labelled before/after picture: the rainy input beside the derained result, and the
// ground truth with PSNRs when a clean reference is given (e.g. Rain12's clean/ folder).
//   side_by_side --input rainy.png --output compare.png --clean clean.png --model my.derain
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <derain/dnn_derain.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli_args.hpp"
#include "example_model.hpp"
#include "image_files.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"

namespace {
constexpr int kGap = 4;                  // white pixels between panels
constexpr double kLabelWidthRef = 400.;  // panel width at which labels use font scale 1
constexpr double kMinFontScale = 0.4, kMaxFontScale = 1.2;

// The panel with a black caption bar on top.
cv::Mat labelled(const cv::Mat& panel, const std::string& caption) {
  const double scale = std::clamp(panel.cols / kLabelWidthRef, kMinFontScale, kMaxFontScale);
  const int thickness = scale > 0.8 ? 2 : 1;
  int baseline = 0;
  const cv::Size text = cv::getTextSize(caption, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &baseline);
  const int bar = text.height + baseline + 12;
  cv::Mat out(panel.rows + bar, panel.cols, panel.type(), cv::Scalar::all(0));
  panel.copyTo(out(cv::Rect(0, bar, panel.cols, panel.rows)));
  cv::putText(out, caption, cv::Point(6, 6 + text.height), cv::FONT_HERSHEY_SIMPLEX, scale,
              cv::Scalar::all(255), thickness, cv::LINE_AA);
  return out;
}

std::string withPsnr(const std::string& caption, const cv::Mat& image, const cv::Mat* reference) {
  if (!reference) return caption;
  std::ostringstream out;
  out << caption << "  PSNR " << std::fixed << std::setprecision(2) << cv::PSNR(image, *reference) << " dB";
  return out.str();
}
}  // namespace

namespace {
int run(int argc, char** argv) {
  derain::cli::ArgParser args("side_by_side", "Write a labelled before/after image of deraining (or of --rainmake).");
  args.option("input", "FILE", "rainy image (clean one with --rainmake)", "", true);
  args.option("output", "FILE", "picture to write; the format follows the extension", "", true);
  args.option("clean", "FILE", "ground-truth clean image: adds a third panel and PSNRs against it");
  example::addModelOptions(args);
  args.flag("rainmake", "show synthesised rain on a clean input instead");
  args.epilog(std::string("PSNR is OpenCV's cv::PSNR over all three 8-bit channels.\n\n") + example::kModelNote);
  args.parse(argc, argv);
  if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional()[0] + "'");
  const bool rainmake = args.flagSet("rainmake");
  // Before any slow work: the picture may replace neither input, and its folder must take it.
  derain::cli::refuseSameFile(args.get("input"), args.get("output"));
  if (args.has("clean")) derain::cli::refuseSameFile(args.get("clean"), args.get("output"));
  derain::cli::checkWritableOutput(args.get("output"));

  try {
    // derain::Error "cannot read image 'PATH': WHY" (missing, a folder, not an image, ...).
    const cv::Mat input = derain::cli::readImage(args.get("input"), cv::IMREAD_COLOR);
    cv::Mat clean;
    if (args.has("clean")) {
      clean = derain::cli::readImage(args.get("clean"), cv::IMREAD_COLOR);
      if (clean.size() != input.size()) {
        std::cerr << "side_by_side: --clean is " << clean.cols << "x" << clean.rows << " but --input is "
                  << input.cols << "x" << input.rows << "\n";
        return 1;
      }
    }
    const cv::Mat* reference = clean.empty() ? nullptr : &clean;

    auto net = example::openModel(args);
    cv::Mat result;
    if (rainmake)
      net->rainmake(input, result);
    else
      net->derain(input, result);

    std::vector<cv::Mat> panels = {
        labelled(input, withPsnr(rainmake ? "clean input" : "rainy input", input, reference)),
        labelled(result, withPsnr(rainmake ? "synthetic rain" : "derained", result, reference))};
    if (reference) panels.push_back(labelled(clean, "ground truth"));

    const cv::Mat gap(panels[0].rows, kGap, input.type(), cv::Scalar::all(255));
    std::vector<cv::Mat> row;
    for (const cv::Mat& panel : panels) {
      if (!row.empty()) row.push_back(gap);
      row.push_back(panel);
    }
    cv::Mat picture;
    cv::hconcat(row, picture);
    derain::cli::writeImage(args.get("output"), picture);  // a temporary file, renamed into place
    std::cout << args.get("output") << ": " << picture.cols << "x" << picture.rows << ", " << panels.size()
              << " panels\n";
  } catch (const cv::Exception& e) {
    std::cerr << "side_by_side: " << e.err << "\n";
    return 1;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("side_by_side", [&] { return run(argc, argv); });
}
