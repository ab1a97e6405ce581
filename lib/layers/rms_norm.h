#pragma once
#include <torch/torch.h>

namespace convpt::layers {

// T5's layer norm: scale only (no bias, no mean subtraction), computed in float32 whatever the input dtype.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double epsilon);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;

 private:
  double epsilon_;
};
TORCH_MODULE(RMSNorm);

}  // namespace convpt::layers
