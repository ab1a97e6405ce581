#pragma once
// Learning-rate schedules, as functions of the 1-based optimisation step.
#include <cstdint>
#include <string>

namespace convpt::training {

struct ScheduleOptions {
  std::string kind = "rsqrt";  // rsqrt | linear | cosine | constant
  double learning_rate = 1.0;  // rsqrt: the scale of 1/sqrt(max(step, warmup)); otherwise the peak
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;     // where linear and cosine reach zero
};

// rsqrt (T5): learning_rate / sqrt(max(step, warmup_steps)) — constant during warm-up, then decaying.
// linear / cosine: linear warm-up to the peak, then linear / cosine decay to zero at total_steps.
// constant: linear warm-up (if any), then the peak.
double learning_rate_at(const ScheduleOptions& options, int64_t step);

}  // namespace convpt::training
