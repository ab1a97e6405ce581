// The depthwise conv op on a CUDA device: the kernels of depthwise_conv_device.cuh, launched with the CUDA runtime.
#include "depthwise_conv_device.cuh"

namespace convpt::cuda {
namespace {

void check_launch(const char* what) {
  if (const cudaError_t status = cudaGetLastError(); status != cudaSuccess)
    throw std::runtime_error(std::string("depthwise_conv CUDA ") + what + ": " + cudaGetErrorString(status));
}

// Lets `kernel` use `shared_bytes` of dynamic shared memory: an opt-in above the default 48 KiB.
template <typename Kernel>
void allow_shared_bytes(Kernel kernel, size_t shared_bytes, const char* what) {
  if (shared_bytes > 48 * 1024 &&
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_bytes)) != cudaSuccess)
    check_launch(what);
}

// The Launcher of depthwise_conv_device.cuh for the current device.
struct DeviceLauncher {
  cudaStream_t stream;

  template <typename... Params, typename... Args>
  void operator()(const char* what, void (*kernel)(Params...), dim3 blocks, int threads, size_t shared_bytes,
                  Args... args) const {
    allow_shared_bytes(kernel, shared_bytes, what);
    kernel<<<blocks, threads, shared_bytes, stream>>>(args...);
    check_launch(what);
  }

  template <typename Kernel>
  int64_t resident_blocks(Kernel kernel, int threads, size_t shared_bytes, const char* what) const {
    int device = 0, sms = 0, per_sm = 0;
    allow_shared_bytes(kernel, shared_bytes, what);  // the occupancy query counts only what the kernel may use
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, shared_bytes) != cudaSuccess)
      check_launch(what);
    return int64_t(per_sm) * sms;
  }

  void zero(void* p, size_t bytes, const char* what) const {
    if (cudaMemsetAsync(p, 0, bytes, stream) != cudaSuccess) check_launch(what);
  }
};

}  // namespace

void depthwise_conv_forward(const ConvShape& shape, DType dtype, const void* x, const void* weight, void* out,
                            cudaStream_t stream) {
  dispatch(dtype, [&](auto tag) { conv<decltype(tag)>(DeviceLauncher{stream}, shape, x, weight, out, false); });
}

void depthwise_conv_input_grad(const ConvShape& shape, DType dtype, const void* grad_out, const void* weight,
                               void* grad_x, cudaStream_t stream) {
  dispatch(dtype,
           [&](auto tag) { conv<decltype(tag)>(DeviceLauncher{stream}, shape, grad_out, weight, grad_x, true); });
}

size_t depthwise_conv_weight_grad_workspace(const ConvShape& shape, DType dtype) {
  return dispatch(dtype, [&](auto tag) { return weight_grad_workspace<decltype(tag)>(shape); });
}

void depthwise_conv_weight_grad(const ConvShape& shape, DType dtype, const void* x, const void* grad_out,
                                void* grad_w, void* workspace, cudaStream_t stream) {
  dispatch(dtype, [&](auto tag) {
    weight_grad<decltype(tag)>(DeviceLauncher{stream}, shape, x, grad_out, grad_w, workspace);
  });
}

}  // namespace convpt::cuda
