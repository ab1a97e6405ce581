// The depthwise conv op's CUDA kernels, compiled by the host compiler and run on the CPU by
// cuda/emulation/block_emulator.h, against the float64 reference: forward and both gradients, over kernel sizes
// (beyond one shared-memory pass of taps too), lengths (T < k too), heads, channel counts (beyond one tile, and
// ruling out vector loads), dilations, windows, static and dynamic taps, in every dtype the kernels take, for the
// multiply-add kernels and the tensor-core ones (whose mma the emulator runs as a warp collective). The
// same source that nvcc compiles for the GPU, so a kernel's indexing, tiling, barriers and cp.async waits are checked
// on any machine, within what the emulator models (see there); tests/depthwise_conv_cuda_test.cpp checks the real
// thing where a GPU is.
#include "testing.h"  // first: see there

#include <algorithm>

#include "depthwise_conv_device.cuh"  // after LibTorch: the emulator redefines CUDA's keywords
#include "depthwise_conv_testing.h"
#include "ops/depthwise_conv.h"

namespace {

namespace cuda = convpt::cuda;
using convpt::ops::ConvWindow;
using convpt::ops::DepthwiseConvSpec;
using convpt::test::ConvResult;

using convpt::test::bfloat16;
using convpt::test::exact_randn;
using convpt::test::float16;
using convpt::test::float32;
using convpt::test::float64;
using convpt::test::Precision;

// Which conv kernel the forward and input gradient take: as the op does, or one named.
enum class Kernel { automatic, multiply_add, tensor_core };

// The kernels' forward, input gradient and weight gradient on CPU tensors of element type T, as the op calls them
// (Tiling: as conv's).
template <typename T, typename Tiling>
ConvResult emulated_conv(const cuda::emulation::EmulatedLauncher& launch, const torch::Tensor& x,
                         const torch::Tensor& w, const DepthwiseConvSpec& spec, const torch::Tensor& g) {
  const bool dynamic = w.dim() == 4;
  const int64_t k = w.size(-1);
  const cuda::ConvShape shape{x.size(0), x.size(1), x.size(2), w.size(-2), k,
                              convpt::ops::window_offset(k, spec.window), spec.dilation, dynamic};
  ConvResult r{torch::empty_like(x), torch::empty_like(x), torch::empty_like(w)};
  // Poisoned (NaN), so an element no kernel writes fails the comparison.
  for (torch::Tensor* t : {&r.out, &r.grad_x, &r.grad_weight}) t->fill_(std::numeric_limits<double>::quiet_NaN());
  const torch::Tensor workspace =
      torch::empty({int64_t(cuda::weight_grad_workspace<T>(shape))}, torch::TensorOptions(torch::kByte));
  cuda::conv<T, Tiling>(launch, shape, x.data_ptr(), w.data_ptr(), r.out.data_ptr(), false);
  cuda::conv<T, Tiling>(launch, shape, g.data_ptr(), w.data_ptr(), r.grad_x.data_ptr(), true);
  cuda::weight_grad<T, Tiling>(launch, shape, x.data_ptr(), g.data_ptr(), r.grad_weight.data_ptr(),
                               workspace.data_ptr());
  return r;
}

template <typename T>
ConvResult emulated_conv(const cuda::emulation::EmulatedLauncher& launch, Kernel kernel, const torch::Tensor& x,
                         const torch::Tensor& w, const DepthwiseConvSpec& spec, const torch::Tensor& g) {
  switch (kernel) {
    case Kernel::automatic: return emulated_conv<T, void>(launch, x, w, spec, g);
    case Kernel::multiply_add: return emulated_conv<T, cuda::FmaTiling>(launch, x, w, spec, g);
    case Kernel::tensor_core: return emulated_conv<T, cuda::MmaTiling>(launch, x, w, spec, g);
  }
  throw std::invalid_argument("unknown kernel");
}

// The kernels on x, w and g in one precision, on the CPU through `launch`.
ConvResult emulated(const cuda::emulation::EmulatedLauncher& launch, Kernel kernel, torch::Dtype dtype,
                    const torch::Tensor& x, const torch::Tensor& w, const DepthwiseConvSpec& spec,
                    const torch::Tensor& g) {
  const auto as = [&](const torch::Tensor& t) { return t.to(dtype).contiguous(); };
  switch (dtype) {
    case torch::kDouble: return emulated_conv<double>(launch, kernel, as(x), as(w), spec, as(g));
    case torch::kFloat: return emulated_conv<float>(launch, kernel, as(x), as(w), spec, as(g));
    case torch::kBFloat16: return emulated_conv<__nv_bfloat16>(launch, kernel, as(x), as(w), spec, as(g));
    case torch::kHalf: return emulated_conv<__half>(launch, kernel, as(x), as(w), spec, as(g));
    default: throw std::invalid_argument(std::string("no element type for ") + c10::toString(dtype));
  }
}

void check_against_reference(const torch::Tensor& x, const torch::Tensor& w, const DepthwiseConvSpec& spec,
                             const torch::Tensor& g, const std::vector<Precision>& precisions,
                             const cuda::emulation::EmulatedLauncher& launch = {},
                             Kernel kernel = Kernel::automatic) {
  convpt::test::check_against_reference(
      [&](torch::Dtype dtype, const torch::Tensor& xd, const torch::Tensor& wd, const DepthwiseConvSpec& sd,
          const torch::Tensor& gd) { return emulated(launch, kernel, dtype, xd, wd, sd, gd); },
      x, w, spec, g, precisions);
}

DepthwiseConvSpec spec_of(int64_t dilation, bool causal) {
  return {.dilation = dilation, .window = causal ? ConvWindow::causal : ConvWindow::centred};
}

// A block reverses its slice of `data` through shared memory: right only if every thread's write lands before any
// thread's read, that is, if __syncthreads holds the threads back.
__global__ void reverse_in_blocks(float* data) {
  float* slice = reinterpret_cast<float*>(convpt::cuda::dynamic_shared_memory());
  float* mine = data + blockIdx.x * blockDim.x;
  slice[threadIdx.x] = mine[threadIdx.x];
  __syncthreads();
  mine[threadIdx.x] = slice[blockDim.x - 1 - threadIdx.x];
}

// Threads past `active` leave at once; the others still meet at the barrier. Odd threads read shared memory that
// no thread writes.
__global__ void early_exit_and_unwritten(float* out, unsigned active) {
  if (threadIdx.x >= active) return;
  float* s = reinterpret_cast<float*>(convpt::cuda::dynamic_shared_memory());
  if (threadIdx.x % 2 == 0) s[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

}  // namespace

TEST_CASE("block emulator: barriers order shared-memory writes before reads", "[emulation]") {
  std::vector<float> data(3 * 64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(i);
  cuda::emulation::launch(reverse_in_blocks, dim3(3), dim3(64), 64 * sizeof(float), data.data());
  for (size_t b = 0; b < 3; ++b)
    for (size_t t = 0; t < 64; ++t) CHECK(data[b * 64 + t] == float(b * 64 + 63 - t));
}

TEST_CASE("block emulator: exited threads leave the barrier and unwritten shared memory reads as NaN", "[emulation]") {
  std::vector<float> out(32, -1.0f);
  cuda::emulation::launch(early_exit_and_unwritten, dim3(1), dim3(32), 32 * sizeof(float), out.data(), 20u);
  for (unsigned t = 0; t < 32; ++t) {
    CAPTURE(t);
    if (t >= 20)
      CHECK(out[t] == -1.0f);
    else if (t % 2 == 0)
      CHECK(out[t] == float(t));
    else
      CHECK(std::isnan(out[t]));
  }
}

TEST_CASE("emulated CUDA kernels equal the reference in forward and both gradients", "[depthwise_conv][emulation]") {
  const bool dynamic = GENERATE(false, true);
  const bool causal = GENERATE(false, true);
  const int64_t dilation = GENERATE(1, 3);
  // 33 and 70 take more than one shared-memory pass of taps (32)
  const int64_t k = GENERATE(1, 2, 4, 7, 15, 31, 33, 70);
  // 136 channels: two full channel tiles of 64 and a partial one; H = 1 then puts one head across all three
  const int64_t C = GENERATE(12, 136);
  constexpr int64_t B = 2;
  torch::manual_seed(k * 1000 + C);
  for (const int64_t H : {int64_t(1), int64_t(4), C})
    for (const int64_t T : {1, 3, 40, 300}) {
      CAPTURE(dynamic, causal, dilation, k, C, H, T);
      const auto [x, w, g] = convpt::test::random_case(B, T, C, H, k, dynamic);
      check_against_reference(x, w, spec_of(dilation, causal), g, {float32, bfloat16}, {}, Kernel::multiply_add);
    }
}

TEST_CASE("emulated tensor-core conv kernel equals the reference", "[depthwise_conv][emulation]") {
  const bool causal = GENERATE(false, true);
  const int64_t dilation = GENERATE(1, 3);
  // k-steps' edges: k + 15 a multiple of 16 (1, 17, 65: the largest the kernel takes) or one past it (2, 18)
  const int64_t k = GENERATE(1, 2, 7, 17, 18, 31, 65);
  // 8: one warp's channels of a tile; 136: two full tiles and one with one warp's channels
  const int64_t C = GENERATE(8, 136);
  torch::manual_seed(k * 100 + C);
  for (const int64_t H : {int64_t(1), C})
    // 530: three row tiles of 256 steps, the last short of one column group of 128
    for (const int64_t T : {3, 40, 530}) {
      CAPTURE(causal, dilation, k, C, H, T);
      const auto [x, w, g] = convpt::test::random_case(2, T, C, H, k, false);
      check_against_reference(x, w, spec_of(dilation, causal), g, {bfloat16}, {}, Kernel::tensor_core);
    }
}

TEST_CASE("the tensor-core kernels refuse shapes they do not take", "[depthwise_conv][emulation]") {
  const auto refuses = [](int64_t C, int64_t k, bool dynamic) {
    CAPTURE(C, k, dynamic);
    const cuda::ConvShape shape{1, 8, C, C, k, 0, 1, dynamic};
    const cuda::emulation::EmulatedLauncher launch;
    const torch::Tensor x = torch::zeros({1, 8, C}, torch::kBFloat16), y = torch::empty_like(x);
    const torch::Tensor w = dynamic ? torch::zeros({1, 8, C, k}, torch::kBFloat16) : torch::zeros({C, k}, torch::kBFloat16);
    const torch::Tensor grad_w = torch::empty_like(w);
    using Mma = cuda::MmaTiling;
    CHECK_THROWS_WITH((cuda::conv<__nv_bfloat16, Mma>(launch, shape, x.data_ptr(), w.data_ptr(), y.data_ptr(), true)),
                      Catch::Matchers::Contains("tensor-core kernels take"));
    CHECK_THROWS_WITH((cuda::weight_grad<__nv_bfloat16, Mma>(launch, shape, x.data_ptr(), y.data_ptr(),
                                                             grad_w.data_ptr(), nullptr)),
                      Catch::Matchers::Contains("tensor-core kernels take"));
  };
  refuses(12, 3, false);                     // C not a multiple of 8
  refuses(8, cuda::kMmaMaxTaps + 1, false);  // k beyond its k-steps
  refuses(8, 3, true);                       // dynamic taps
}

// sm_86 and sm_89 (run the sm_80 code) allow a block 99 KiB of shared memory; the tensor-core conv needs more
// beyond k = 1, the multiply-add conv and both weight gradients fit.
constexpr size_t kSm86SharedBytes = 99 << 10;

TEST_CASE("the tensor-core conv refuses a device that cannot give a block its shared memory", "[emulation]") {
  const cuda::ConvShape shape{1, 8, 8, 8, 7, 3, 1, false};
  const cuda::emulation::EmulatedLauncher sm86{.max_shared_bytes = kSm86SharedBytes};
  const torch::Tensor x = torch::zeros({1, 8, 8}, torch::kBFloat16), w = torch::zeros({8, 7}, torch::kBFloat16);
  CHECK_THROWS_WITH((cuda::conv<__nv_bfloat16, cuda::MmaTiling>(sm86, shape, x.data_ptr(), w.data_ptr(),
                                                                 torch::empty_like(x).data_ptr(), false)),
                    Catch::Matchers::Contains("allows a block their shared memory"));
}

TEST_CASE("emulated kernels on a device with sm_86's shared memory: each part takes a kernel that fits",
          "[depthwise_conv][emulation]") {
  const int64_t k = GENERATE(1, 7, 31, 65);
  CAPTURE(k);
  torch::manual_seed(k);
  std::vector<std::string> launched;
  const cuda::emulation::EmulatedLauncher sm86{.max_shared_bytes = kSm86SharedBytes, .launched = &launched};
  const auto [x, w, g] = convpt::test::random_case(2, 300, 72, 72, k, false);
  check_against_reference(x, w, spec_of(1, false), g, {bfloat16}, sm86);
  const auto ran = [&](const std::string& what) { return std::count(launched.begin(), launched.end(), what) > 0; };
  CHECK(ran("forward (tensor cores)") == (k == 1));
  CHECK(ran("forward") == (k > 1));
  CHECK(ran("weight gradient (tensor cores)"));
  launched.clear();  // float32: the multiply-add kernels, the largest shared memory of the static ones
  check_against_reference(x, w, spec_of(1, true), g, {float32}, sm86);
  CHECK(ran("forward"));
}

TEST_CASE("emulated CUDA kernels in float64 and float16", "[depthwise_conv][emulation]") {
  const bool dynamic = GENERATE(false, true);
  const int64_t k = GENERATE(3, 33);
  torch::manual_seed(k);
  const torch::Tensor x = exact_randn({2, 150, 72}), g = exact_randn({2, 150, 72});
  const torch::Tensor w = dynamic ? exact_randn({2, 150, 8, k}) : exact_randn({72, k});
  check_against_reference(x, w, spec_of(2, false), g, {float64, float16});
}

TEST_CASE("emulated CUDA kernels on channel counts that rule out vector loads", "[depthwise_conv][emulation]") {
  const bool dynamic = GENERATE(false, true);
  torch::manual_seed(5);
  for (const auto& [C, H] : convpt::test::unaligned_channels) {
    CAPTURE(dynamic, C, H);
    const auto [x, w, g] = convpt::test::random_case(3, 50, C, H, 5, dynamic);
    check_against_reference(x, w, spec_of(2, false), g, {float32, bfloat16});
  }
}

TEST_CASE("emulated CUDA kernels whatever the number of persistent blocks", "[depthwise_conv][emulation]") {
  // One block walks every tile; many blocks leave some without work.
  const int64_t resident = GENERATE(1, 2, 64);
  CAPTURE(resident);
  torch::manual_seed(3);
  const torch::Tensor x = exact_randn({2, 500, 136}), g = exact_randn({2, 500, 136});
  check_against_reference(x, exact_randn({136, 9}), spec_of(2, true), g, {float32, bfloat16}, {.resident = resident});
}

TEST_CASE("emulated launch refuses a block that needs more shared memory than the device has", "[emulation]") {
  const torch::Tensor x = torch::zeros({1, 8, 8}), w = torch::zeros({8, 5});
  const cuda::ConvShape shape{1, 8, 8, 8, 5, 2, 1, false};
  const cuda::emulation::EmulatedLauncher small{.max_shared_bytes = 1024};
  CHECK_THROWS_WITH(cuda::conv<float>(small, shape, x.data_ptr(), w.data_ptr(), torch::empty_like(x).data_ptr(), false),
                    Catch::Matchers::Contains("more than the device has"));
}
