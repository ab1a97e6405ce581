#pragma once
// The convolution at the heart of the paper's conv blocks: a depthwise 1-D convolution over time whose taps are
// shared by contiguous blocks of channels ("heads"), either fixed per layer (lightweight, dilated) or predicted per
// position (dynamic). Softmax normalisation of the taps, biases and padding masks belong to the layer, not here.
//
// Semantics (the one definition every implementation follows):
//   x       [B, T, C]      the model's layout (channels last), float32, float64 or bfloat16 (and float16 on CUDA)
//   weight  [H, k]         static taps (lightweight, dilated), or
//           [B, T, H, k]   dynamic taps, one set per position; same dtype as x; C % H == 0
//   channel c uses head h(c) = c / (C / H) (contiguous blocks, as fairseq)
//   out[b, t, c] = sum_{j=0}^{k-1} w[h(c), j] * x[b, t + (j - P) * dilation, c]   (w[b, t, h(c), j] if dynamic)
//   P = k - 1 for a causal window (taps t-(k-1)d .. t), P = (k - 1) / 2 (floor) for a centred one; for even k the
//   centred window reaches one step further right than left, as fairseq pads it. Terms with a time index outside
//   [0, T) are zero. Any k >= 1 and any T >= 1 (also T < k) are valid; bfloat16 and float16 accumulate in float32.
#include <torch/torch.h>

namespace convpt::ops {

enum class ConvWindow { centred, causal };

struct DepthwiseConvSpec {
  int64_t dilation = 1;
  ConvWindow window = ConvWindow::centred;
};

// Index of the tap that multiplies x[t] itself: P in the formula above.
int64_t window_offset(int64_t kernel_size, ConvWindow window);

// Throws std::invalid_argument naming the problem when x/weight/spec break the contract above.
void check_depthwise_conv_args(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec);

// Plain reference: one shifted, weighted sum per tap, written with LibTorch ops (autograd through them).
// Exists to define and test the fast implementations; the models never call it.
torch::Tensor depthwise_conv_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                       const DepthwiseConvSpec& spec);

// The implementation the models use: hand-written forward and backward (custom autograd function), vectorised over
// channels and parallel over batch x time on CPU, or the kernels in cuda/ for CUDA tensors (when built with them).
// Tensors on a device without an implementation are an error.
torch::Tensor depthwise_conv(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec);

}  // namespace convpt::ops
