#include "training/precision.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

namespace convpt::training {

Autocast::Autocast(const std::string& precision, torch::Device device) : device_type_(device.type()) {
  if (precision == "fp32") return;
  if (precision != "bf16") throw std::invalid_argument("unknown precision '" + precision + "' (fp32, bf16)");
  enabled_ = true;
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::set_autocast_dtype(device_type_, at::kBFloat16);
}

Autocast::~Autocast() {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(device_type_, false);
  at::autocast::clear_cache();
}

}  // namespace convpt::training
