#pragma once
// CUDA device facts from the runtime API, independent of LibTorch (which may hide the reason a GPU is unusable).
#include <string>

namespace convpt::cuda {

// One line per device (name, compute capability, memory, SMs), or the CUDA runtime's reason there are none.
std::string describe_devices();

}  // namespace convpt::cuda
