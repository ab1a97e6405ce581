#include "layers/conv_block.h"

#include <cmath>

#include "layers/init.h"

namespace convpt::layers {

ConvBlockImpl::ConvBlockImpl(const ConvBlockOptions& options) : options_(options) {
  const int64_t d = options.d_model, h = options.heads, k = options.kernel_size;
  if (k < 1 || options.dilation < 1 || h < 1 || d % h != 0)
    throw std::invalid_argument("conv block: need kernel_size >= 1, dilation >= 1 and d_model % heads == 0 (got k=" +
                                std::to_string(k) + ", dilation=" + std::to_string(options.dilation) +
                                ", d_model=" + std::to_string(d) + ", heads=" + std::to_string(h) + ")");
  // Scales as the released code (Mesh TF's VarianceScalingInitializer, fan-in): dense layers 1/sqrt(in); the tap
  // logits, lightweight and predicted, carry its scale 1/k on top. Not zeros: Adafactor scales a step by the
  // parameter's RMS (floor 1e-3), so zero taps would stay a uniform average filter for thousands of steps.
  auto linear = [&](const char* name, int64_t in, int64_t out, double scale = 1.0) {
    auto layer = register_module(name, torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(true)));
    init_normal(layer->weight, std::sqrt(scale / double(in)));
    init_zeros(layer->bias);
    return layer;
  };
  glu_value = linear("glu_value", d, d);
  glu_gate = linear("glu_gate", d, d);
  if (options.kind == ConvKind::dynamic) {
    tap_predictor = linear("tap_predictor", d, h * k, 1.0 / double(k));
  } else {
    taps = register_parameter("taps", torch::empty({h, k}));
    init_normal(taps, std::sqrt(1.0 / double(k)));
  }
  conv_bias = register_parameter("conv_bias", torch::zeros({d}));
  pointwise = linear("pointwise", d, d);
  output = linear("output", d, d);
}

torch::Tensor ConvBlockImpl::taps_for(const torch::Tensor& gated) {
  // The op takes taps in the input's dtype; under bf16 autocast the softmax may come out in float32.
  if (options_.kind == ConvKind::lightweight) return torch::softmax(taps, -1).to(gated.scalar_type());
  const int64_t B = gated.size(0), T = gated.size(1), h = options_.heads, k = options_.kernel_size;
  if (!gated.device().is_cpu())
    return torch::softmax(tap_predictor->forward(gated).view({B, T, h, k}), -1).to(gated.scalar_type());
  // The same taps, normalised where ATen's CPU softmax is fast. Over a short last dimension it works one row of k at
  // a time (7 taps: 8x slower than over a strided dimension, a quarter of the dynamic model's training step); so the
  // predictor's rows are taken tap-major, the logits come out [B, T, k, h], and the softmax runs across heads.
  const int64_t d = gated.size(2);
  const torch::Tensor weight = tap_predictor->weight.view({h, k, d}).transpose(0, 1).reshape({k * h, d});
  const torch::Tensor bias = tap_predictor->bias.view({h, k}).t().reshape({k * h});
  const torch::Tensor logits = torch::nn::functional::linear(gated, weight, bias).view({B, T, k, h});
  return torch::softmax(logits, 2).transpose(2, 3).contiguous().to(gated.scalar_type());
}

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, ConvCache* cache) {
  torch::Tensor gated = glu_value(x) * torch::sigmoid(glu_gate(x));
  gated = gated * mask.unsqueeze(-1).to(gated.scalar_type());
  const ops::DepthwiseConvSpec spec{options_.dilation, options_.window};
  torch::Tensor mixed;
  if (cache) {
    if (options_.window != ops::ConvWindow::causal)
      throw std::logic_error("conv block: incremental decoding needs a causal window");
    // Prepend the remembered inputs, convolve, keep the outputs of the new positions only.
    const torch::Tensor window = cache->inputs.defined() ? torch::cat({cache->inputs, gated}, 1) : gated;
    const int64_t history = (options_.kernel_size - 1) * options_.dilation;
    mixed = ops::depthwise_conv(window, taps_for(window), spec).narrow(1, window.size(1) - x.size(1), x.size(1));
    cache->inputs = window.narrow(1, std::max<int64_t>(0, window.size(1) - history),
                                  std::min<int64_t>(history, window.size(1)));
  } else {
    mixed = ops::depthwise_conv(gated, taps_for(gated), spec);
  }
  return output(pointwise(mixed + conv_bias.to(mixed.scalar_type())));
}

}  // namespace convpt::layers
