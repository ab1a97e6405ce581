#pragma once
// Shared by the CPU and CUDA tests of the depthwise conv op: run an implementation forward and backward.
#include <torch/torch.h>

#include "ops/depthwise_conv.h"

namespace convpt::test {

using Conv = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&, const ops::DepthwiseConvSpec&);

struct ConvResult {
  torch::Tensor out, grad_x, grad_weight;
};

// Runs `conv` on fresh leaves and backpropagates grad_out.
inline ConvResult run_conv(Conv conv, const torch::Tensor& x, const torch::Tensor& weight,
                           const ops::DepthwiseConvSpec& spec, const torch::Tensor& grad_out) {
  const torch::Tensor xl = x.detach().clone().requires_grad_(), wl = weight.detach().clone().requires_grad_();
  const torch::Tensor out = conv(xl, wl, spec);
  out.backward(grad_out);
  return {out.detach(), xl.grad(), wl.grad()};
}

}  // namespace convpt::test
