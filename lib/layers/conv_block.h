#pragma once
// The paper's replacement for self-attention (as released in its Mesh TensorFlow code), input x [B, T, d]:
//   g = (x Wa + ba) * sigmoid(x Wb + bb)             GLU, d -> d
//   g = 0 at padded positions                         (the GLU biases would otherwise re-fill them)
//   c = depthwise_conv(g, softmax_k(taps)) + bias    taps: [H, k] learned (lightweight, dilated) or
//                                                     g_t V + beta per position (dynamic), softmax over the k taps
//   out = (c Wp + bp) Wo + bo                        pointwise d x d, then output projection d x d
// Encoder windows are centred, decoder windows causal.
#include <torch/torch.h>

#include "ops/depthwise_conv.h"

namespace convpt::layers {

enum class ConvKind { lightweight, dynamic };

// Inputs of the last (k-1)*dilation positions, kept between incremental decoding steps.
struct ConvCache {
  torch::Tensor inputs;  // [B, <= (k-1)*dilation, d]; undefined before the first step
};

struct ConvBlockOptions {
  int64_t d_model;
  int64_t heads;  // taps are shared by d_model / heads contiguous channels
  int64_t kernel_size;
  int64_t dilation = 1;
  ConvKind kind = ConvKind::lightweight;
  ops::ConvWindow window = ops::ConvWindow::centred;
};

class ConvBlockImpl : public torch::nn::Module {
 public:
  explicit ConvBlockImpl(const ConvBlockOptions& options);

  // mask [B, T] is true at real tokens. With a cache (causal only), x holds just the new positions.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, ConvCache* cache = nullptr);

  // The normalised taps: [H, k] (lightweight) or [B, T, H, k] (dynamic, predicted from g).
  torch::Tensor taps_for(const torch::Tensor& gated);

  const ConvBlockOptions& options() const { return options_; }

  torch::nn::Linear glu_value{nullptr}, glu_gate{nullptr}, pointwise{nullptr}, output{nullptr};
  torch::nn::Linear tap_predictor{nullptr};  // dynamic only
  torch::Tensor taps;                        // lightweight only: [H, k] logits
  torch::Tensor conv_bias;                   // [d]

 private:
  ConvBlockOptions options_;
};
TORCH_MODULE(ConvBlock);

}  // namespace convpt::layers
