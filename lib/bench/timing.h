#pragma once
// Wall-clock timing of a repeated piece of work: warm-up runs, then the median and spread of timed runs.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include <torch/cuda.h>
#include <torch/types.h>

namespace convpt::bench {

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
};

inline Timing time_runs(const std::function<void()>& work, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) work();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back()};
}

// CUDA kernels run asynchronously: each run waits for the device, so the clock stops when the work is done.
inline Timing time_device_runs(const std::function<void()>& work, torch::Device device, int warmup, int repeats) {
  return time_runs(
      [&] {
        work();
        if (device.is_cuda()) torch::cuda::synchronize();
      },
      warmup, repeats);
}

}  // namespace convpt::bench
