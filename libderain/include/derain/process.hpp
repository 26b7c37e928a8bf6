// Process-wide settings. The libraries never change the process on their own; the owner of the
// process (an application, a CLI, the GStreamer elements on behalf of a pipeline) opts in.
// Torch-free (derain-core).
#pragma once

#include "derain/export.hpp"

namespace derain {

// Per-frame inference allocates and frees the same large buffers every frame. glibc returns each
// to the kernel on free and page-faults it back in on the next allocation (measured: lite U-ARSE
// 540 -> 82 ms at 640x360 once freed buffers are kept). This raises glibc's mmap and trim
// thresholds so freed buffers stay in the heap for reuse: the process keeps up to ~1 GB of freed
// memory. derain-run, derain-bench, derain-train and the GStreamer elements call it. Idempotent.
DERAIN_API void keepFreedBuffersForReuse();

}  // namespace derain
