#pragma once
// Shared by the tests of the depthwise conv op's implementations (CPU, CUDA, emulated CUDA kernels): run one forward
// and backward, compare with the float64 reference.
#include "testing.h"

#include <functional>
#include <vector>

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

// max |a - b| / max(1, max |b|), on the CPU in float64
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  const torch::Tensor ad = a.to(torch::kCPU, torch::kDouble), bd = b.to(torch::kCPU, torch::kDouble);
  if (ad.numel() == 0) return 0;
  return (ad - bd).abs().max().item<double>() / std::max(1.0, bd.abs().max().item<double>());
}

// Random values on a 1/16 grid within [-4, 4], in float64: exact in every float type the op takes, so one float64
// reference serves all.
inline torch::Tensor exact_randn(at::IntArrayRef sizes) {
  return (torch::randn(sizes, torch::kDouble) * 16).round().clamp(-64, 64) / 16;
}

// A case's inputs: x and g [B, T, C], taps [H, k] (static) or [B, T, H, k] (dynamic), all exact_randn.
struct ConvCase {
  torch::Tensor x, w, g;
};
inline ConvCase random_case(int64_t B, int64_t T, int64_t C, int64_t H, int64_t k, bool dynamic) {
  return {exact_randn({B, T, C}), dynamic ? exact_randn({B, T, H, k}) : exact_randn({H, k}), exact_randn({B, T, C})};
}

// (C, H) pairs whose C rules out 16-byte vector loads, with heads of one channel, several, and all.
inline const std::vector<std::pair<int64_t, int64_t>> unaligned_channels = {{5, 5}, {6, 3}, {70, 7}, {70, 1}};

struct Precision {
  torch::Dtype dtype;
  double tolerance;  // outputs are rounded to the dtype once, after float32 (float64) sums
};
inline const Precision float64{torch::kDouble, 1e-12}, float32{torch::kFloat, 1e-5}, bfloat16{torch::kBFloat16, 1e-2},
    float16{torch::kHalf, 2e-3};

// An implementation run in one precision: forward and backward of x, w and g converted to `dtype`.
using ConvIn = std::function<ConvResult(torch::Dtype dtype, const torch::Tensor& x, const torch::Tensor& w,
                                        const ops::DepthwiseConvSpec& spec, const torch::Tensor& g)>;

// `conv` in each precision against the float64 reference of the same inputs (float64, on the CPU).
inline void check_against_reference(const ConvIn& conv, const torch::Tensor& x, const torch::Tensor& w,
                                     const ops::DepthwiseConvSpec& spec, const torch::Tensor& g,
                                     const std::vector<Precision>& precisions) {
  const ConvResult ref = run_conv(ops::depthwise_conv_reference, x, w, spec, g);
  for (const auto& [dtype, tolerance] : precisions) {
    CAPTURE(c10::toString(dtype));
    const ConvResult r = conv(dtype, x, w, spec, g);
    CHECK(relative_error(r.out, ref.out) < tolerance);
    CHECK(relative_error(r.grad_x, ref.grad_x) < tolerance);
    CHECK(relative_error(r.grad_weight, ref.grad_weight) < tolerance);
  }
}

// The op on `device` computes x's gradient alone when the taps need none, equal to the reference's, and refuses a
// second derivative.
inline void check_gradients_asked_for(const torch::Device& device) {
  const torch::Tensor x = torch::randn({1, 5, 4}, torch::TensorOptions(device).dtype(torch::kDouble)).requires_grad_();
  const torch::Tensor w = torch::randn({2, 3}, x.options());
  ops::depthwise_conv(x, w, {}).sum().backward();
  CHECK(relative_error(x.grad(), torch::autograd::grad({ops::depthwise_conv_reference(x, w, {}).sum()}, {x})[0]) <
        1e-12);

  const torch::Tensor out = ops::depthwise_conv(x, w.clone().requires_grad_(), {}).sum();
  CHECK_THROWS_WITH(torch::autograd::grad({out}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true),
                    Catch::Matchers::Contains("higher-order gradients"));
}

}  // namespace convpt::test
