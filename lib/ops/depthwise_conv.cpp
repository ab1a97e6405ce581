#include "ops/depthwise_conv.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "ops/depthwise_conv_cpu.h"

namespace convpt::ops {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("depthwise_conv: " + what); }

std::string shape(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// x shifted by `shift` steps in time, zero-filled: result[:, t] = x[:, t + shift], 0 where t + shift is outside [0, T).
torch::Tensor shift_in_time(const torch::Tensor& x, int64_t shift) {
  const int64_t T = x.size(1);
  if (shift == 0) return x;
  if (std::abs(shift) >= T) return torch::zeros_like(x);
  const torch::Tensor zeros = torch::zeros({x.size(0), std::abs(shift), x.size(2)}, x.options());
  if (shift > 0) return torch::cat({x.narrow(1, shift, T - shift), zeros}, 1);
  return torch::cat({zeros, x.narrow(1, 0, T + shift)}, 1);
}

}  // namespace

int64_t window_offset(int64_t kernel_size, ConvWindow window) {
  if (kernel_size < 1) fail("kernel size must be >= 1, got " + std::to_string(kernel_size));
  return window == ConvWindow::causal ? kernel_size - 1 : (kernel_size - 1) / 2;
}

void check_depthwise_conv_args(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec) {
  if (!x.defined() || !weight.defined()) fail("x and weight must be defined tensors");
  if (x.layout() != torch::kStrided || weight.layout() != torch::kStrided)
    fail("x and weight must be dense (strided) tensors");
  if (x.dim() != 3) fail("x must be [B, T, C], got shape " + shape(x));
  const auto dtype = x.scalar_type();
  if (dtype != torch::kFloat && dtype != torch::kDouble && dtype != torch::kBFloat16)
    fail(std::string("x has unsupported dtype ") + c10::toString(dtype) + " (supported: Float, Double, BFloat16)");
  if (weight.scalar_type() != dtype)
    fail(std::string("weight dtype ") + c10::toString(weight.scalar_type()) + " differs from x dtype " +
         c10::toString(dtype));
  if (weight.device() != x.device())
    fail("weight is on " + weight.device().str() + " but x is on " + x.device().str());

  const bool dynamic = weight.dim() == 4;
  if (weight.dim() != 2 && !dynamic)
    fail("weight must be [H, k] (static) or [B, T, H, k] (dynamic), got shape " + shape(weight));
  if (dynamic && (weight.size(0) != x.size(0) || weight.size(1) != x.size(1)))
    fail("dynamic weight " + shape(weight) + " must match x " + shape(x) + " in B and T");
  const int64_t heads = weight.size(dynamic ? 2 : 0);
  const int64_t k = weight.size(-1);
  if (heads < 1) fail("weight must have at least one head, got shape " + shape(weight));
  if (x.size(2) % heads != 0)
    fail("channels C = " + std::to_string(x.size(2)) + " are not divisible by heads H = " + std::to_string(heads));
  if (k < 1) fail("kernel size k (weight's last dimension) must be >= 1, got shape " + shape(weight));
  if (spec.dilation < 1) fail("dilation must be >= 1, got " + std::to_string(spec.dilation));
}

torch::Tensor depthwise_conv_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                       const DepthwiseConvSpec& spec) {
  check_depthwise_conv_args(x, weight, spec);
  if (x.scalar_type() == torch::kBFloat16)  // accumulate in float32, as the contract says
    return depthwise_conv_reference(x.to(torch::kFloat), weight.to(torch::kFloat), spec).to(torch::kBFloat16);
  const bool dynamic = weight.dim() == 4;
  const int64_t k = weight.size(-1);
  const int64_t P = window_offset(k, spec.window);
  const int64_t channels_per_head = x.size(2) / weight.size(dynamic ? 2 : 0);
  // Per-channel taps: static [C, k], dynamic [B, T, C, k]; channel c takes head c / channels_per_head's taps.
  const torch::Tensor w = weight.repeat_interleave(channels_per_head, dynamic ? 2 : 0);
  torch::Tensor out = torch::zeros_like(x);
  for (int64_t j = 0; j < k; ++j) out = out + w.select(-1, j) * shift_in_time(x, (j - P) * spec.dilation);
  return out;
}

torch::Tensor depthwise_conv(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec) {
  check_depthwise_conv_args(x, weight, spec);
  if (x.device().is_cpu()) return detail::depthwise_conv_cpu(x, weight, spec);
  throw std::runtime_error("depthwise_conv: no implementation for device '" + x.device().str() +
                           "' yet (tensors must be on the CPU)");
}

}  // namespace convpt::ops
