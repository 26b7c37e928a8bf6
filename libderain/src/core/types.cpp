#include "derain/types.hpp"

#include "derain/error.hpp"

namespace derain {

Device parseDevice(const std::string& word) {
  if (word == "auto") return Device::Auto;
  if (word == "cpu") return Device::CPU;
  if (word == "cuda") return Device::CUDA;
  throw Error("unknown device '" + word + "' (expected auto, cpu or cuda)");
}

Precision parsePrecision(const std::string& word) {
  if (word == "fp32") return Precision::FP32;
  if (word == "bf16") return Precision::BF16;
  if (word == "int8") return Precision::INT8;
  if (word == "auto") return Precision::Auto;
  throw Error("unknown precision '" + word + "' (expected fp32, bf16, int8 or auto)");
}

std::string toString(Device device) {
  switch (device) {
    case Device::Auto: return "auto";
    case Device::CPU: return "cpu";
    case Device::CUDA: return "cuda";
  }
  return "?";
}

std::string toString(Precision precision) {
  switch (precision) {
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::INT8: return "int8";
    case Precision::Auto: return "auto";
  }
  return "?";
}

}  // namespace derain
