// Precision int8 (EngineOptions::precision): an int8 engine's network is a bf16 network whose
// packed convolutions (packed_conv.h) run their sums in 8-bit integers (onednn_conv.h,
// ConvType::Int8). The engine opens this scope around its inference; the convolutions read it when
// they make their packs, and packs made in and out of it are kept apart. Per thread: two engines of
// one shared model, one int8 and one bf16, may run at once. Torch-free.
#pragma once

namespace derain::detail {

class Int8Scope {
 public:
  explicit Int8Scope(bool on) : previous_(on_) { on_ = on; }
  ~Int8Scope() { on_ = previous_; }
  Int8Scope(const Int8Scope&) = delete;
  Int8Scope& operator=(const Int8Scope&) = delete;
  static bool active() { return on_; }

 private:
  static inline thread_local bool on_ = false;
  bool previous_;
};

}  // namespace derain::detail
