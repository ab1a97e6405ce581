// The depthwise conv's forward kernels, timed against the device's copy bandwidth: the production choice (the
// tensor-core kernel for static bf16 taps), and the multiply-add kernel's tiling candidates (how ConvTile in
// depthwise_conv_device.cuh was chosen). Standalone (no LibTorch): it compiles the kernel file into itself, checks
// every candidate against a one-thread-per-output reference on fresh random data, then times the forward at the
// benchmark shape (B=8, T=4096, C=1024, H=16, bf16, k 3/7/31).
//
//   ninja -C build convpt_conv_tiling_bench && build/cuda/convpt_conv_tiling_bench   (or nvcc -O3 -std=c++17
//   -arch=sm_90 cuda/tuning/conv_tiling_bench.cu -o conv_tiling_bench: it needs nothing else)
//
// It also times the backward kernels (input gradient, static weight gradient) at that shape, production and
// multiply-add. `conv_tiling_bench profile` runs only the production forward and backward kernels once per k, for a
// profiler (ncu).
// Exit status 1 if any candidate computes a wrong result.
#include "../depthwise_conv_kernels.cu"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace convpt::cuda {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
    std::exit(2);
  }
}

// out[b, t, c] = sum_j w[h(c), j] * x[b, t + (j - P) * dilation, c] (static taps), in double.
template <typename T>
__global__ void reference_forward(ConvShape s, const T* x, const T* w, float* out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= s.B * s.T * s.C) return;
  const int64_t c = i % s.C, t = i / s.C % s.T, b = i / (s.C * s.T), h = c / (s.C / s.H);
  double sum = 0;
  for (int64_t j = 0; j < s.k; ++j) {
    const int64_t u = t + (j - s.offset) * s.dilation;
    if (u >= 0 && u < s.T) sum += double(to_acc(w[h * s.k + j])) * double(to_acc(x[(b * s.T + u) * s.C + c]));
  }
  out[i] = float(sum);
}

template <typename T>
__global__ void to_float(const T* in, float* out, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = to_acc(in[i]);
}

template <typename T>
T* random_device(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<T> host(n);
  for (auto& v : host) v = T(normal(rng));
  T* device = nullptr;
  check(cudaMalloc(&device, n * sizeof(T)), "cudaMalloc");
  check(cudaMemcpy(device, host.data(), n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  return device;
}

// ||out - ref|| / ||ref|| of a candidate's forward, its output poisoned (NaN) beforehand so unwritten elements fail.
template <typename T, typename Tiling>
double forward_error(const ConvShape& s, std::mt19937& rng) {
  const int64_t n = s.B * s.T * s.C;
  T* x = random_device<T>(n, rng);
  T* w = random_device<T>(s.H * s.k, rng);
  T* y = nullptr;
  float *y32 = nullptr, *ref = nullptr;
  check(cudaMalloc(&y, n * sizeof(T)), "cudaMalloc");
  check(cudaMalloc(&y32, n * sizeof(float)), "cudaMalloc");
  check(cudaMalloc(&ref, n * sizeof(float)), "cudaMalloc");
  check(cudaMemset(y, 0xff, n * sizeof(T)), "poison");
  conv<T, Tiling>(DeviceLauncher{nullptr}, s, x, w, y, false);
  const unsigned blocks = unsigned((n + 255) / 256);
  to_float<<<blocks, 256>>>(y, y32, n);
  reference_forward<<<blocks, 256>>>(s, x, w, ref);
  check(cudaDeviceSynchronize(), "forward check");
  std::vector<float> got(n), want(n);
  check(cudaMemcpy(got.data(), y32, n * sizeof(float), cudaMemcpyDeviceToHost), "download");
  check(cudaMemcpy(want.data(), ref, n * sizeof(float), cudaMemcpyDeviceToHost), "download");
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff += double(got[i] - want[i]) * (got[i] - want[i]);
    norm += double(want[i]) * want[i];
  }
  for (void* p : {static_cast<void*>(x), static_cast<void*>(w), static_cast<void*>(y), static_cast<void*>(y32),
                  static_cast<void*>(ref)})
    cudaFree(p);
  return std::isfinite(diff) ? std::sqrt(diff / norm) : INFINITY;
}

// Median milliseconds of f over `repeats` runs, timed with events after a warm-up.
template <typename F>
float median_ms(const F& f, int repeats = 30) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start), cudaEventCreate(&stop);
  for (int i = 0; i < 3; ++i) f(i);
  std::vector<float> times;
  for (int i = 0; i < repeats; ++i) {
    cudaEventRecord(start);
    f(i);
    cudaEventRecord(stop);
    check(cudaEventSynchronize(stop), "timed run");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

constexpr int64_t kB = 8, kT = 4096, kC = 1024, kH = 16;
constexpr int kInputs = 3;  // input sets rotated between runs, so no run reads the previous run's data from L2

struct Buffers {
  __nv_bfloat16 *x[kInputs], *w, *y[kInputs];
};

// The kernel conv<__nv_bfloat16, Tiling> runs at the benchmark shape.
template <typename Tiling>
const void* bf16_forward_kernel() {
  if constexpr (std::is_void_v<Tiling> || std::is_same_v<Tiling, MmaTiling>)
    return reinterpret_cast<const void*>(mma_conv_kernel<__nv_bfloat16, false>);
  else if constexpr (std::is_same_v<Tiling, FmaTiling>)
    return reinterpret_cast<const void*>(conv_kernel<__nv_bfloat16, false, false, ConvTile<__nv_bfloat16, false>>);
  else
    return reinterpret_cast<const void*>(conv_kernel<__nv_bfloat16, false, false, Tiling>);
}

template <typename Tiling>
bool run_candidate(const char* name, const Buffers& buffers, double copy_gbs, std::mt19937& rng) {
  // Correctness first, on odd shapes: T < k, C not a multiple of the tile or of 8, dilation, causal, several passes.
  const ConvShape shapes[] = {{2, 100, 1000, 8, 5, 2, 1, false},   {1, 3, 64, 64, 7, 3, 1, false},
                              {3, 257, 72, 9, 31, 30, 3, false},  {2, 130, 96, 4, 37, 18, 2, false},
                              {1, 4096, 128, 2, 3, 1, 1, false}};
  double worst = 0;
  for (const ConvShape& s : shapes) {
    worst = std::max(worst, forward_error<__nv_bfloat16, Tiling>(s, rng));
    if constexpr (std::is_same_v<Tiling, MmaTiling>)  // 16-bit types only
      worst = std::max(worst, forward_error<__half, Tiling>(s, rng));
    else
      worst = std::max(worst, forward_error<float, Tiling>(s, rng));
  }
  const bool ok = worst < 1e-2;
  cudaFuncAttributes attributes{};
  check(cudaFuncGetAttributes(&attributes, bf16_forward_kernel<Tiling>()), "attributes");
  std::printf("%-22s worst rel. error %.2e %s; bf16 forward: %d registers, %zu bytes of local memory\n", name, worst,
              ok ? "ok" : "WRONG", attributes.numRegs, attributes.localSizeBytes);
  for (const int64_t k : {3, 7, 31}) {
    const ConvShape s{kB, kT, kC, kH, k, (k - 1) / 2, 1, false};
    const float ms = median_ms([&](int i) {
      conv<__nv_bfloat16, Tiling>(DeviceLauncher{nullptr}, s, buffers.x[i % kInputs], buffers.w, buffers.y[i % kInputs],
                                  false);
    });
    const double gbs = (2.0 * kB * kT * kC + kH * k) * sizeof(__nv_bfloat16) / (ms * 1e6);
    std::printf("  %-20s k=%-3lld %8.4f ms %7.0f GB/s %5.1f%% of copy\n", name, (long long)k, ms, gbs,
                100 * gbs / copy_gbs);
  }
  return ok;
}

// The backward at the benchmark shape: the input gradient (the conv kernel, transposed) and the static weight
// gradient (two-stage reduction), each timed alone, with the kernel conv() picks (Tiling void: the tensor cores
// here) and with the multiply-add kernel (FmaTiling). Their correctness is the CUDA tests' (ctest -L cuda).
struct Backward {
  const Buffers& buffers;
  __nv_bfloat16* grad_w;
  void* workspace;

  template <typename Tiling = void>
  void input_grad(const ConvShape& s, int i) const {
    conv<__nv_bfloat16, Tiling>(DeviceLauncher{nullptr}, s, buffers.x[i % kInputs], buffers.w, buffers.y[i % kInputs],
                                true);
  }
  template <typename Tiling = void>
  void weight_grad(const ConvShape& s, int i) const {
    convpt::cuda::weight_grad<__nv_bfloat16, Tiling>(DeviceLauncher{nullptr}, s, buffers.x[i % kInputs],
                                                     buffers.y[(i + 1) % kInputs], grad_w, workspace);
  }
};

Backward backward_of(const Buffers& buffers) {
  size_t workspace_bytes = 0;
  for (const int64_t k : {3, 7, 31})
    workspace_bytes = std::max(workspace_bytes, weight_grad_workspace<__nv_bfloat16>({kB, kT, kC, kH, k, 0, 1, false}));
  Backward b{buffers, nullptr, nullptr};
  check(cudaMalloc(&b.grad_w, kH * 31 * sizeof(__nv_bfloat16)), "cudaMalloc");
  check(cudaMalloc(&b.workspace, workspace_bytes), "cudaMalloc");
  return b;
}

void time_backward(const Backward& backward, double copy_gbs) {
  for (const int64_t k : {3, 7, 31}) {
    const ConvShape s{kB, kT, kC, kH, k, (k - 1) / 2, 1, false};
    const double bytes = (2.0 * kB * kT * kC + kH * k) * sizeof(__nv_bfloat16);  // two [B, T, C] tensors and taps
    const std::pair<const char*, float> timings[] = {
        {"input grad, production", median_ms([&](int i) { backward.input_grad(s, i); })},
        {"input grad, multiply-add", median_ms([&](int i) { backward.input_grad<FmaTiling>(s, i); })},
        {"weight grad, production", median_ms([&](int i) { backward.weight_grad(s, i); })},
        {"weight grad, multiply-add", median_ms([&](int i) { backward.weight_grad<FmaTiling>(s, i); })}};
    for (const auto& [what, ms] : timings)
      std::printf("  %-26s k=%-3lld %8.4f ms %7.0f GB/s %5.1f%% of copy\n", what, (long long)k, ms,
                  bytes / (ms * 1e6), 100 * bytes / (ms * 1e6) / copy_gbs);
  }
}

}  // namespace
}  // namespace convpt::cuda

int main(int argc, char** argv) {
  using namespace convpt::cuda;
  std::mt19937 rng(7);
  const int64_t n = kB * kT * kC;
  Buffers buffers{};
  for (int i = 0; i < kInputs; ++i) {
    buffers.x[i] = random_device<__nv_bfloat16>(n, rng);
    check(cudaMalloc(&buffers.y[i], n * sizeof(__nv_bfloat16)), "cudaMalloc");
    check(cudaMemset(buffers.y[i], 0, n * sizeof(__nv_bfloat16)), "cudaMemset");  // the weight gradient reads them
  }
  buffers.w = random_device<__nv_bfloat16>(kH * 31, rng);
  const Backward backward = backward_of(buffers);
  if (argc > 1 && std::string(argv[1]) == "profile") {
    for (const int64_t k : {3, 7, 31}) {
      const ConvShape s{kB, kT, kC, kH, k, (k - 1) / 2, 1, false};
      conv<__nv_bfloat16>(DeviceLauncher{nullptr}, s, buffers.x[0], buffers.w, buffers.y[0], false);
      backward.input_grad(s, 0);
      backward.weight_grad(s, 0);
    }
    check(cudaDeviceSynchronize(), "profile runs");
    return 0;
  }
  const float copy_ms = median_ms([&](int i) {
    cudaMemcpyAsync(buffers.y[i % kInputs], buffers.x[(i + 1) % kInputs], n * sizeof(__nv_bfloat16),
                    cudaMemcpyDeviceToDevice);
  });
  const double copy_gbs = 2.0 * n * sizeof(__nv_bfloat16) / (copy_ms * 1e6);
  std::printf("device-to-device copy of %lld MiB: %.4f ms, %.0f GB/s (read + write)\n",
              (long long)(n * 2 >> 20), copy_ms, copy_gbs);
  bool ok = true;
  ok &= run_candidate<void>("production", buffers, copy_gbs, rng);  // the tensor-core kernel, at this shape
  time_backward(backward, copy_gbs);
  ok &= run_candidate<FmaTiling>("multiply-add ConvTile", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<8, 2, 2, 1>>("rows8 vec2 st2 mb1", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<8, 2, 2, 3>>("rows8 vec2 st2 mb3", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<8, 2, 2, 4>>("rows8 vec2 st2 mb4", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<16, 2, 2, 2>>("rows16 vec2 st2 mb2", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<16, 2, 3, 2>>("rows16 vec2 st3 mb2", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<8, 4, 2, 2>>("rows8 vec4 st2 mb2", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<16, 4, 2, 1>>("rows16 vec4 st2 mb1", buffers, copy_gbs, rng);
  ok &= run_candidate<ConvTiling<32, 2, 2, 1>>("rows32 vec2 st2 mb1", buffers, copy_gbs, rng);
  return ok ? 0 : 1;
}
