#pragma once
// Mixed precision, one switch for training, evaluation and benchmarks: with precision "bf16" the forward pass runs
// under bf16 autocast on the model's device (matmuls and convolutions in bf16, reductions and losses in float32).
#include <torch/torch.h>

#include <string>

namespace convpt::training {

// RAII: bf16 autocast on `device`'s type while alive for "bf16", nothing for "fp32"; anything else is an error.
class Autocast {
 public:
  Autocast(const std::string& precision, torch::Device device);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool enabled_ = false;
  c10::DeviceType device_type_;
};

}  // namespace convpt::training
