#include "layers/rms_norm.h"

namespace convpt::layers {

RMSNormImpl::RMSNormImpl(int64_t dim, double epsilon) : epsilon_(epsilon) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor x32 = x.to(torch::kFloat32);
  const torch::Tensor normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + epsilon_);
  return (weight.to(torch::kFloat32) * normed).to(x.scalar_type());
}

}  // namespace convpt::layers
