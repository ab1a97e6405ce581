#pragma once
// Parameter initialisation as in T5 (Mesh TensorFlow / HF T5): normal with a per-matrix standard deviation.
#include <torch/torch.h>

namespace convpt::layers {

inline void init_normal(torch::Tensor& parameter, double std) {
  torch::NoGradGuard no_grad;
  parameter.normal_(0.0, std);
}

inline void init_zeros(torch::Tensor& parameter) {
  torch::NoGradGuard no_grad;
  parameter.zero_();
}

}  // namespace convpt::layers
