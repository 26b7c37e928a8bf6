// What the OpenCV examples share: the --model / --target / --threads options and the
// cv::dnn_derain::DnnDerainImpl they describe.
#pragma once

#include <string>

#include <derain/dnn_derain.hpp>
#include <opencv2/core.hpp>

#include "cli_args.hpp"

namespace example {

// Said in every example's --help.
constexpr const char* kModelNote =
    "Model: --model FILE, else $DERAIN_MODEL, else the default model shipped with libderain\n"
    "(installed, or the source tree's models/ through `meson devenv`). make_untrained_model writes an\n"
    "untrained model of any preset, to try the plumbing (its output is NOT derained).";

inline void addModelOptions(derain::cli::ArgParser& args) {
  args.option("model", "FILE", "model file (default: $DERAIN_MODEL or the installed default model)");
  args.option("target", "NAME", "where to run: auto, cpu, cuda, cpu-bf16, cuda-bf16 or cpu-int8 (AVX-512 VNNI)", "auto");
  args.option("threads", "N", "CPU threads, 0 = every core", "0");
}

inline int parseTarget(const derain::cli::ArgParser& args) {
  namespace dd = cv::dnn_derain;
  const std::string name = args.get("target");
  if (name == "auto") return dd::TARGET_AUTO;
  if (name == "cpu") return dd::TARGET_CPU;
  if (name == "cuda") return dd::TARGET_CUDA;
  if (name == "cpu-bf16") return dd::TARGET_CPU_BF16;
  if (name == "cuda-bf16") return dd::TARGET_CUDA_BF16;
  if (name == "cpu-int8") return dd::TARGET_CPU_INT8;
  args.fail("unknown --target '" + name + "' (auto, cpu, cuda, cpu-bf16, cuda-bf16, cpu-int8)");
}

// Throws cv::Exception when the target or the model cannot be had.
inline cv::Ptr<cv::dnn_derain::DnnDerainImpl> openModel(const derain::cli::ArgParser& args) {
  const int target = parseTarget(args);
  const int threads = args.getInt("threads");
  if (threads < 0) args.fail("--threads must be >= 0");
  auto net = cv::dnn_derain::DnnDerainImpl::create();
  net->setPreferableBackend(cv::dnn_derain::BACKEND_LIBTORCH);
  net->setPreferableTarget(target);
  net->setNumThreads(threads);
  net->readModel(args.get("model"));  // "" = the default model
  return net;
}

}  // namespace example
