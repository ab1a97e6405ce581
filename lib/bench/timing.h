#pragma once
// Timing of a repeated piece of work: warm-up runs, then the median and spread of timed runs.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/cuda.h>
#include <torch/types.h>

namespace convpt::bench {

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
};

// Runs `work` warmup times, then `repeats` times, each run timed by `time_one(work)` in milliseconds.
inline Timing time_repeated(const std::function<void()>& work, int warmup, int repeats,
                            const std::function<double(const std::function<void()>&)>& time_one) {
  for (int i = 0; i < warmup; ++i) work();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) ms.push_back(time_one(work));
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back()};
}

// Wall-clock time of each run, which waits for the device: what a user waits for, host work and syncs included.
inline Timing time_wall(const std::function<void()>& work, torch::Device device, int warmup, int repeats) {
  const auto wait = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  return time_repeated([&] { work(), wait(); }, warmup, repeats, [&](const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  });
}

// The device's time for each run: on a GPU, between events recorded on the current stream before and after it (gaps
// while the device waits for the host's launches count, the wait for the result does not); on a CPU, wall clock.
inline Timing time_device(const std::function<void()>& work, torch::Device device, int warmup, int repeats) {
  if (!device.is_cuda()) return time_wall(work, device, warmup, repeats);
  const c10::Stream stream = c10::impl::VirtualGuardImpl(device.type()).getStream(device);
  return time_repeated(work, warmup, repeats, [&](const std::function<void()>& run) {
    c10::Event start(device.type(), c10::EventFlag::BACKEND_DEFAULT), stop(device.type(), c10::EventFlag::BACKEND_DEFAULT);
    start.record(stream);
    run();
    stop.record(stream);
    stop.synchronize();
    return start.elapsedTime(stop);
  });
}

}  // namespace convpt::bench
