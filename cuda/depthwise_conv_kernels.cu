// The depthwise conv op on a CUDA device: the kernels of depthwise_conv_device.cuh, launched with the CUDA runtime.
#include "depthwise_conv_device.cuh"

#include <map>
#include <mutex>
#include <optional>
#include <tuple>

namespace convpt::cuda {
namespace {

void check_launch(const char* what) {
  if (const cudaError_t status = cudaGetLastError(); status != cudaSuccess)
    throw std::runtime_error(std::string("depthwise_conv CUDA ") + what + ": " + cudaGetErrorString(status));
}

int current_device(const char* what) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) check_launch(what);
  return device;
}

// Per-kernel facts that cost a runtime call each (several microseconds of host time per launch, which small
// sequences feel), found once per kernel and device (and size).
class KernelFacts {
 public:
  // Lets `kernel` use `shared_bytes` of dynamic shared memory: an opt-in above the default 48 KiB. The opt-in sets
  // the kernel's limit, lower as well as higher, so it only ever raises it: every size asked for before still fits.
  template <typename Kernel>
  static void allow_shared_bytes(Kernel kernel, size_t shared_bytes, const char* what) {
    if (shared_bytes <= 48 * 1024) return;
    const std::lock_guard lock(mutex_);
    size_t& allowed = allowed_bytes_[{reinterpret_cast<const void*>(kernel), current_device(what)}];
    if (shared_bytes <= allowed) return;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_bytes)) != cudaSuccess)
      check_launch(what);
    allowed = shared_bytes;
  }

  // Blocks of `kernel` that the device runs at once (0 where one asks for more shared memory than it allows).
  template <typename Kernel>
  static int64_t resident_blocks(Kernel kernel, int threads, size_t shared_bytes, const char* what) {
    if (shared_bytes > shared_limit(what)) return 0;  // the opt-in would fail with a bare "invalid argument"
    const int device = current_device(what);
    const Key key{reinterpret_cast<const void*>(kernel), device, threads, shared_bytes};
    if (const auto blocks = known(key)) return *blocks;
    int sms = 0, per_sm = 0;
    allow_shared_bytes(kernel, shared_bytes, what);  // the occupancy query counts only what the kernel may use
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, shared_bytes) != cudaSuccess)
      check_launch(what);
    remember(key, int64_t(per_sm) * sms);
    return int64_t(per_sm) * sms;
  }

  // The most dynamic shared memory a block may opt into on the current device.
  static size_t shared_limit(const char* what) {
    const int device = current_device(what);
    const Key key{nullptr, device, 0, 0};
    if (const auto bytes = known(key)) return size_t(*bytes);
    int bytes = 0;
    if (cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess)
      check_launch(what);
    remember(key, bytes);
    return size_t(bytes);
  }

 private:
  using Key = std::tuple<const void*, int, int, size_t>;  // kernel (none: the device's limit), device, threads, bytes
  static std::optional<int64_t> known(const Key& key) {
    const std::lock_guard lock(mutex_);
    const auto it = facts_.find(key);
    return it == facts_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  static void remember(const Key& key, int64_t value) {
    const std::lock_guard lock(mutex_);
    facts_[key] = value;
  }
  static inline std::mutex mutex_;
  static inline std::map<Key, int64_t> facts_;                                 // resident blocks, shared limit
  static inline std::map<std::pair<const void*, int>, size_t> allowed_bytes_;  // (kernel, device): opted-in bytes
};

// The Launcher of depthwise_conv_device.cuh for the current device.
struct DeviceLauncher {
  cudaStream_t stream;

  template <typename... Params, typename... Args>
  void operator()(const char* what, void (*kernel)(Params...), dim3 blocks, int threads, size_t shared_bytes,
                  Args... args) const {
    if (shared_bytes > 48 * 1024 && shared_bytes > shared_limit())  // every device allows a block 48 KiB
      throw shared_memory_refusal(what, shared_bytes, shared_limit());
    KernelFacts::allow_shared_bytes(kernel, shared_bytes, what);
    kernel<<<blocks, threads, shared_bytes, stream>>>(args...);
    check_launch(what);
  }

  template <typename Kernel>
  int64_t resident_blocks(Kernel kernel, int threads, size_t shared_bytes, const char* what) const {
    return KernelFacts::resident_blocks(kernel, threads, shared_bytes, what);
  }

  size_t shared_limit() const { return KernelFacts::shared_limit("shared memory limit"); }

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
