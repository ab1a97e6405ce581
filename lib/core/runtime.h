#pragma once
// Process-wide execution settings: threads, seed, device. Applied once per command from the run config.
#include <string>

#include <torch/types.h>

#include "config/config.h"

namespace convpt {

// Sets LibTorch's intra-op threads (0: one per core; LibTorch alone would pick its own default), seeds every
// generator, and checks the device. Throws std::runtime_error when `device: cuda` has no usable GPU.
torch::Device apply_runtime(const config::RunConfig& run);

// Human-readable facts about this build and machine, for `convpt env` and the head of every run log.
std::string describe_runtime();

}  // namespace convpt
