// Derains one image file with cv::dnn_derain (or, with --rainmake, puts rain on a clean one).
//   derain_image --input rainy.png --output clean.png --model my.derain
// 8-bit grey, colour and colour+alpha images keep their channels; 16-bit ones go through the
// float path and are written back as 16-bit.
#include <chrono>
#include <iostream>

#include <derain/dnn_derain.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_args.hpp"
#include "example_model.hpp"
#include "image_files.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"

namespace {
constexpr double k16BitMax = 65535.0;  // full scale of a 16-bit image
}  // namespace

namespace {
int run(int argc, char** argv) {
  derain::cli::ArgParser args("derain_image", "Remove rain from one image (or add rain with --rainmake).");
  args.option("input", "FILE", "image to read (any format OpenCV reads)", "", true);
  args.option("output", "FILE", "image to write; the format follows the extension", "", true);
  example::addModelOptions(args);
  args.flag("rainmake", "synthesise rain on a clean image instead of removing it");
  args.option("mask-noise", "S", "with --rainmake: std-dev of noise on the rain mask (varies the rain)", "0");
  args.option("seed", "N", "with --rainmake: seed of that noise", "0");
  args.epilog(std::string("Example:\n  derain_image --input rainy.png --output clean.png --model my.derain\n\n") +
              example::kModelNote);
  args.parse(argc, argv);
  if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional()[0] + "'");
  const double noise = args.getDouble("mask-noise");
  const int seed = args.getInt("seed");
  if (noise < 0) args.fail("--mask-noise must be >= 0");
  if (seed < 0) args.fail("--seed must be >= 0");

  // Before any slow work: the output may not replace the input, and its folder must take it.
  derain::cli::refuseSameFile(args.get("input"), args.get("output"));
  derain::cli::checkWritableOutput(args.get("output"));

  try {
    // derain::Error "cannot read image 'PATH': WHY" (missing, a folder, not an image, ...).
    const cv::Mat input = derain::cli::readImage(args.get("input"), cv::IMREAD_UNCHANGED);
    // The wrapper takes 8-bit or float [0, 1]; a 16-bit image is scaled into float and back.
    const bool sixteen_bit = input.depth() == CV_16U;
    cv::Mat image = input;
    if (sixteen_bit) input.convertTo(image, CV_32F, 1.0 / k16BitMax);

    auto net = example::openModel(args);
    const auto start = std::chrono::steady_clock::now();
    cv::Mat result;
    if (args.flagSet("rainmake"))
      net->rainmake(image, result, static_cast<float>(noise), static_cast<uint64_t>(seed));
    else
      net->derain(image, result);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sixteen_bit) result.convertTo(result, CV_16U, k16BitMax);

    derain::cli::writeImage(args.get("output"), result);  // a temporary file, renamed into place
    std::cout << args.get("output") << ": " << result.cols << "x" << result.rows << " "
              << cv::typeToString(result.type()) << ", " << seconds << " s (" << net->describe() << ")\n";
  } catch (const cv::Exception& e) {
    // e.err is the message alone; what() adds OpenCV's file and line.
    std::cerr << "derain_image: " << e.err << "\n";
    return 1;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain_image", [&] { return run(argc, argv); });
}
