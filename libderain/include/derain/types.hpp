// Small value types shared by every face of libderain: where inference runs, at what precision,
// and which channel order an 8-bit image uses.
#pragma once

#include "derain/export.hpp"

#include <string>

namespace derain {

// Where the networks run. Auto picks CUDA when LibTorch was built with it and a GPU is present.
enum class Device { Auto, CPU, CUDA };

// Arithmetic of the forward pass. BF16 is native on CPUs with avx512_bf16/AMX and on Ampere+ GPUs;
// elsewhere it is emulated (correct but slower). Auto = BF16 where native, FP32 otherwise (never
// INT8). INT8 (CPU only, with AVX-512 VNNI): a bf16 network whose convolutions sum 8-bit integers,
// each convolution's input rounded per frame on a grid its own range picks (no calibration step);
// on CPUs without AMX about twice as fast per convolution as bf16, at a small quality cost
// (README, "precision int8").
enum class Precision { FP32, BF16, Auto, INT8 };

// Channel order of a 3-channel image. OpenCV's default is BGR, GStreamer's RGB formats are RGB.
enum class ColorOrder { BGR, RGB };

// Parsing and printing ("auto", "cpu", "cuda"; "fp32", "bf16", "auto"; "bgr", "rgb").
// Parsing an unknown word throws derain::Error naming the accepted words.
DERAIN_API Device parseDevice(const std::string& word);
DERAIN_API Precision parsePrecision(const std::string& word);
DERAIN_API std::string toString(Device device);
DERAIN_API std::string toString(Precision precision);

}  // namespace derain
