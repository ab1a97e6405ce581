#pragma once
// For tests that need a GPU (label `cuda`).
#include <cstdio>
#include <cstdlib>

#include <torch/torch.h>

namespace convpt::test {

// Ends the test process with CTest's skip code (SKIP_RETURN_CODE in tests/CMakeLists.txt) when there is no GPU.
inline void require_cuda() {
  if (torch::cuda::is_available()) return;
  std::puts("no CUDA device: skipped");
  std::fflush(stdout);
  std::exit(77);
}

}  // namespace convpt::test
