// Precompiled header for the torch-using parts of libderain (and the trainer/tests built on it).
#pragma once
#include <torch/torch.h>
