#pragma once
// CUDA kernels of the depthwise conv op (lib/ops/depthwise_conv.h has the semantics), behind a plain C++ interface:
// raw device pointers to contiguous tensors in the model's layout, so nvcc never sees LibTorch's headers.
//
// x, grad_out, out, grad_x: [B, T, C]; weight, grad_w: [H, k] (static) or [B, T, H, k] (dynamic). All of one dtype;
// sums run in float32 (float64 for float64 tensors). Every call is asynchronous on `stream`; a failed launch throws
// std::runtime_error.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace convpt::cuda {

enum class DType { float32, float64, bfloat16, float16 };

struct ConvShape {
  int64_t B, T, C, H, k;
  int64_t offset;    // P: index of the tap that multiplies x[t] itself
  int64_t dilation;  // >= 1
  bool dynamic;      // weight [B, T, H, k] instead of [H, k]
};

// out = conv(x, weight)
void depthwise_conv_forward(const ConvShape& shape, DType dtype, const void* x, const void* weight, void* out,
                            cudaStream_t stream);

// grad_x = the transposed conv of grad_out (taps reversed, window mirrored).
void depthwise_conv_input_grad(const ConvShape& shape, DType dtype, const void* grad_out, const void* weight,
                               void* grad_x, cudaStream_t stream);

// Device scratch that depthwise_conv_weight_grad needs (0 for dynamic weights): per-block partial sums of static
// taps, added up afterwards in a fixed order, so the result is deterministic and needs no atomics.
size_t depthwise_conv_weight_grad_workspace(const ConvShape& shape, DType dtype);

// grad_w[h, j] (static: summed over b, t) or grad_w[b, t, h, j] (dynamic) = sum over head h's channels c of
// grad_out[b, t, c] * x[b, t + (j - P) * dilation, c].
void depthwise_conv_weight_grad(const ConvShape& shape, DType dtype, const void* x, const void* grad_out,
                                void* grad_w, void* workspace, cudaStream_t stream);

}  // namespace convpt::cuda
