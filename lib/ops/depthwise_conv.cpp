#include "ops/depthwise_conv.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "ops/depthwise_conv_cpu.h"

#ifdef CONVPT_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "depthwise_conv_kernels.h"
#endif

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
  const bool half_on_cuda = dtype == torch::kHalf && x.is_cuda();  // only the CUDA kernels take float16
  if (dtype != torch::kFloat && dtype != torch::kDouble && dtype != torch::kBFloat16 && !half_on_cuda)
    fail(std::string("x has unsupported dtype ") + c10::toString(dtype) +
         " (supported: Float, Double, BFloat16; Half on CUDA)");
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
  if (x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf)  // accumulate in float32
    return depthwise_conv_reference(x.to(torch::kFloat), weight.to(torch::kFloat), spec).to(x.scalar_type());
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

#ifdef CONVPT_WITH_CUDA
namespace {

convpt::cuda::DType cuda_dtype(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat: return convpt::cuda::DType::float32;
    case torch::kDouble: return convpt::cuda::DType::float64;
    case torch::kBFloat16: return convpt::cuda::DType::bfloat16;
    case torch::kHalf: return convpt::cuda::DType::float16;
    default: fail(std::string("the CUDA kernels do not take dtype ") + c10::toString(dtype));
  }
}

convpt::cuda::ConvShape cuda_shape(const torch::Tensor& x, const torch::Tensor& weight, int64_t offset,
                                   int64_t dilation) {
  const bool dynamic = weight.dim() == 4;
  return {x.size(0), x.size(1), x.size(2), weight.size(dynamic ? 2 : 0), weight.size(-1), offset, dilation, dynamic};
}

// The CUDA counterpart of the CPU op's autograd function (depthwise_conv_cpu.cpp), with the same saved state and
// gradients; the kernels run on the current stream of x's device.
class DepthwiseConvCuda : public torch::autograd::Function<DepthwiseConvCuda> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in, int64_t offset, int64_t dilation) {
    const c10::cuda::CUDAGuard device(x_in.device());
    const torch::Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
    ctx->save_for_backward({x, weight});
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["dilation"] = dilation;
    torch::Tensor out = torch::empty_like(x);
    convpt::cuda::depthwise_conv_forward(cuda_shape(x, weight, offset, dilation), cuda_dtype(x.scalar_type()),
                                         x.data_ptr(), weight.data_ptr(), out.data_ptr(),
                                         at::cuda::getCurrentCUDAStream());
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    if (torch::GradMode::is_enabled())  // the kernels are not themselves differentiable
      throw std::runtime_error("depthwise_conv: higher-order gradients (backward with create_graph=true) are not "
                               "implemented");
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1];
    const c10::cuda::CUDAGuard device(x.device());
    const torch::Tensor grad_out = grad_outputs[0].contiguous();
    const auto shape = cuda_shape(x, weight, ctx->saved_data["offset"].toInt(), ctx->saved_data["dilation"].toInt());
    const auto dtype = cuda_dtype(x.scalar_type());
    const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
    torch::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0)) {
      grad_x = torch::empty_like(x);
      convpt::cuda::depthwise_conv_input_grad(shape, dtype, grad_out.data_ptr(), weight.data_ptr(),
                                              grad_x.data_ptr(), stream);
    }
    if (ctx->needs_input_grad(1)) {
      grad_w = torch::empty_like(weight);
      const torch::Tensor workspace = torch::empty(
          {int64_t(convpt::cuda::depthwise_conv_weight_grad_workspace(shape, dtype))}, x.options().dtype(torch::kByte));
      convpt::cuda::depthwise_conv_weight_grad(shape, dtype, x.data_ptr(), grad_out.data_ptr(), grad_w.data_ptr(),
                                               workspace.data_ptr(), stream);
    }
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace
#endif

torch::Tensor depthwise_conv(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec) {
  check_depthwise_conv_args(x, weight, spec);
  if (x.device().is_cpu()) return detail::depthwise_conv_cpu(x, weight, spec);
  if (x.is_cuda()) {
#ifdef CONVPT_WITH_CUDA
    return DepthwiseConvCuda::apply(x, weight, window_offset(weight.size(-1), spec.window), spec.dilation);
#else
    throw std::runtime_error("depthwise_conv: convpt was built without its CUDA kernels (CONVPT_CUDA=OFF, or no "
                             "nvcc / CUDA LibTorch at configure time); tensors must be on the CPU");
#endif
  }
  throw std::runtime_error("depthwise_conv: no implementation for device '" + x.device().str() +
                           "' (tensors must be on the CPU or a CUDA device)");
}

}  // namespace convpt::ops
