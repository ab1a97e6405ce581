#include "training/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace convpt::training {

double learning_rate_at(const ScheduleOptions& o, int64_t step) {
  step = std::max<int64_t>(step, 1);
  if (o.kind == "rsqrt") return o.learning_rate / std::sqrt(double(std::max(step, std::max<int64_t>(o.warmup_steps, 1))));
  if (step <= o.warmup_steps) return o.learning_rate * double(step) / double(o.warmup_steps);
  if (o.kind == "constant") return o.learning_rate;
  const double decay_steps = std::max<int64_t>(o.total_steps - o.warmup_steps, 1);
  const double progress = std::clamp(double(step - o.warmup_steps) / decay_steps, 0.0, 1.0);
  if (o.kind == "linear") return o.learning_rate * (1.0 - progress);
  if (o.kind == "cosine") return o.learning_rate * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  throw std::invalid_argument("unknown learning-rate schedule '" + o.kind + "'");
}

}  // namespace convpt::training
