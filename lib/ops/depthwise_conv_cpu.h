#pragma once
// The CPU implementation behind depthwise_conv: a custom autograd function with hand-written kernels.
#include "ops/depthwise_conv.h"

namespace convpt::ops::detail {

// x and weight on the CPU, already checked by check_depthwise_conv_args.
torch::Tensor depthwise_conv_cpu(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec);

}  // namespace convpt::ops::detail
