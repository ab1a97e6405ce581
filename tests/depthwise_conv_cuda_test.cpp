// The depthwise conv op's CUDA kernels against the reference computed in float64 on the CPU: forward and both
// gradients over the CPU tests' grid of kernel sizes, lengths, heads, dilations and windows (plus kernel sizes beyond
// one shared-memory pass and channel counts beyond one tile), static and dynamic taps, in float32, bfloat16 and
// float16 (static 16-bit taps with k <= 65 and C a multiple of 8 take the tensor-core kernels, the rest the
// multiply-add ones); long sequences and a large batch x channels; argument and device errors. Without a CUDA device
// each test exits with code 77, which CTest reports as skipped.
#include "testing.h"  // first: see there

#include "cuda_testing.h"
#include "depthwise_conv_testing.h"
#include "ops/depthwise_conv.h"

using convpt::ops::ConvWindow;
using convpt::ops::depthwise_conv;
using convpt::ops::depthwise_conv_reference;
using convpt::ops::DepthwiseConvSpec;
using Catch::Matchers::Contains;

namespace {

using convpt::test::require_cuda;
const torch::Device gpu(torch::kCUDA);

using convpt::test::Conv;
using Result = convpt::test::ConvResult;
constexpr auto run = convpt::test::run_conv;

using convpt::test::bfloat16;
using convpt::test::exact_randn;
using convpt::test::float16;
using convpt::test::float32;
using convpt::test::Precision;
using convpt::test::relative_error;

// The CUDA op on x, w and g in one precision, on the GPU.
Result on_gpu(torch::Dtype dtype, const torch::Tensor& x, const torch::Tensor& w, const DepthwiseConvSpec& spec,
              const torch::Tensor& g) {
  const auto to_gpu = [&](const torch::Tensor& t) { return t.to(gpu, dtype); };
  const Result r = run(depthwise_conv, to_gpu(x), to_gpu(w), spec, to_gpu(g));
  CHECK(r.out.is_cuda());
  CHECK(r.out.scalar_type() == dtype);
  CHECK(r.grad_weight.scalar_type() == dtype);
  return r;
}

void check_against_reference(const torch::Tensor& x, const torch::Tensor& w, const DepthwiseConvSpec& spec,
                             const torch::Tensor& g, const std::vector<Precision>& precisions = {float32, bfloat16,
                                                                                                 float16}) {
  convpt::test::check_against_reference(on_gpu, x, w, spec, g, precisions);
}

DepthwiseConvSpec spec_of(int64_t dilation, bool causal) {
  return {.dilation = dilation, .window = causal ? ConvWindow::causal : ConvWindow::centred};
}

}  // namespace

TEST_CASE("CUDA op equals the reference: forward, grad x, grad weight", "[depthwise_conv][cuda]") {
  require_cuda();
  const bool dynamic = GENERATE(false, true);
  const bool causal = GENERATE(false, true);
  const int64_t dilation = GENERATE(1, 2, 3);
  // 33 and 70 take more than one shared-memory pass of taps (32); static 16-bit taps with C = 136 take the
  // tensor-core kernel up to k = 65 (its largest) and the multiply-add kernel from 66
  const int64_t k = GENERATE(1, 2, 3, 4, 7, 15, 31, 33, 65, 66, 70);
  // 136 channels: two full channel tiles of 64 and a partial one; H = 1 then puts one head across all three
  const int64_t C = GENERATE(12, 136);
  constexpr int64_t B = 2;
  torch::manual_seed(k * 1000 + C);
  for (const int64_t H : {int64_t(1), int64_t(4), C})
    for (const int64_t T : {1, 3, 17, 64, 257}) {
      CAPTURE(dynamic, causal, dilation, k, C, H, T);
      const auto [x, w, g] = convpt::test::random_case(B, T, C, H, k, dynamic);
      check_against_reference(x, w, spec_of(dilation, causal), g);
    }
}

TEST_CASE("CUDA op on channel counts that rule out vector loads", "[depthwise_conv][cuda]") {
  require_cuda();
  const bool dynamic = GENERATE(false, true);
  torch::manual_seed(5);
  for (const auto& [C, H] : convpt::test::unaligned_channels) {
    CAPTURE(dynamic, C, H);
    const auto [x, w, g] = convpt::test::random_case(3, 50, C, H, 5, dynamic);
    check_against_reference(x, w, spec_of(2, false), g);
  }
}

TEST_CASE("CUDA op on long sequences (T = 16384)", "[depthwise_conv][cuda]") {
  require_cuda();
  const bool dynamic = GENERATE(false, true);
  const bool causal = GENERATE(false, true);
  const int64_t k = GENERATE(7, 31);
  constexpr int64_t B = 2, T = 16384, C = 64;
  CAPTURE(dynamic, causal, k);
  torch::manual_seed(k);
  const torch::Tensor x = exact_randn({B, T, C}), g = exact_randn({B, T, C});
  // dynamic taps with 8 heads keep the reference's float64 tensors small
  const torch::Tensor w = dynamic ? exact_randn({B, T, 8, k}) : exact_randn({C, k});
  check_against_reference(x, w, spec_of(causal ? 1 : 3, causal), g, {float32, bfloat16});
}

TEST_CASE("CUDA op on a large batch x channels (B = 8, T = 4096, C = 1024)", "[depthwise_conv][cuda]") {
  require_cuda();
  const bool dynamic = GENERATE(false, true);
  constexpr int64_t B = 8, T = 4096, C = 1024, k = 7;
  CAPTURE(dynamic);
  torch::manual_seed(11);
  const torch::Tensor x = exact_randn({B, T, C}), g = exact_randn({B, T, C});
  // dynamic taps with 16 heads keep the weight tensor at a few hundred MB in float64
  const torch::Tensor w = dynamic ? exact_randn({B, T, 16, k}) : exact_randn({C, k});
  check_against_reference(x, w, spec_of(1, false), g, {float32, bfloat16});
}

TEST_CASE("CUDA op after a smaller shared-memory size of the same kernel", "[depthwise_conv][cuda]") {
  // float32 at k = 31 asks for more shared memory than at k = 7 (both above the 48 KiB default): the kernel's opt-in
  // must still cover k = 31 after k = 7 has run.
  require_cuda();
  torch::manual_seed(13);
  for (const int64_t k : {31, 7, 31}) {
    CAPTURE(k);
    const auto [x, w, g] = convpt::test::random_case(2, 300, 256, 256, k, false);
    check_against_reference(x, w, spec_of(1, false), g, {float32});
  }
}

TEST_CASE("CUDA op on non-contiguous inputs equals the reference", "[depthwise_conv][cuda]") {
  require_cuda();
  torch::manual_seed(7);
  const DepthwiseConvSpec spec = spec_of(2, true);
  const torch::Tensor x = exact_randn({3, 16, 40}).to(gpu, torch::kFloat).transpose(1, 2);
  const torch::Tensor w = exact_randn({3, 40, 4, 10}).to(gpu, torch::kFloat).narrow(3, 2, 5);
  const torch::Tensor g = exact_randn({3, 40, 16}).to(gpu, torch::kFloat);
  REQUIRE_FALSE(x.is_contiguous());
  REQUIRE_FALSE(w.is_contiguous());
  const Result r = run(depthwise_conv, x, w, spec, g);
  const Result ref = run(depthwise_conv_reference, x.cpu().to(torch::kDouble), w.cpu().to(torch::kDouble), spec,
                         g.cpu().to(torch::kDouble));
  CHECK(relative_error(r.out, ref.out) < 1e-5);
  CHECK(relative_error(r.grad_x, ref.grad_x) < 1e-5);
  CHECK(relative_error(r.grad_weight, ref.grad_weight) < 1e-5);
}

TEST_CASE("CUDA static weight gradient is deterministic, an empty batch gives zeros", "[depthwise_conv][cuda]") {
  require_cuda();
  torch::manual_seed(9);
  const torch::Tensor x = torch::randn({4, 3000, 256}, gpu), w = torch::randn({16, 9}, gpu);
  const torch::Tensor g = torch::randn_like(x);
  const Result a = run(depthwise_conv, x, w, {}, g), b = run(depthwise_conv, x, w, {}, g);
  CHECK(torch::equal(a.grad_weight, b.grad_weight));

  const torch::Tensor empty = torch::zeros({0, 5, 6}, gpu);
  const Result e = run(depthwise_conv, empty, torch::ones({3, 4}, gpu), {}, empty);
  CHECK(e.out.sizes() == empty.sizes());
  CHECK(e.grad_weight.cpu().abs().max().item<double>() == 0);
}

TEST_CASE("CUDA op computes only the gradients asked for and refuses higher-order ones", "[depthwise_conv][cuda]") {
  require_cuda();
  convpt::test::check_gradients_asked_for(gpu);
}

TEST_CASE("CUDA op rejects unsupported dtypes and mixed devices", "[depthwise_conv][cuda]") {
  require_cuda();
  const torch::Tensor x = torch::zeros({2, 5, 6}, gpu), w = torch::zeros({3, 4}, gpu);
  CHECK_THROWS_AS(depthwise_conv(x.to(torch::kInt), w.to(torch::kInt), {}), std::invalid_argument);
  CHECK_THROWS_WITH(depthwise_conv(x.to(torch::kInt), w.to(torch::kInt), {}), Contains("unsupported dtype Int"));
  CHECK_THROWS_WITH(depthwise_conv(x, w.cpu(), {}), Contains("weight is on cpu but x is on cuda:0"));
  CHECK_THROWS_WITH(depthwise_conv(x.cpu(), w, {}), Contains("weight is on cuda:0 but x is on cpu"));
  // float16 is a CUDA-only dtype
  CHECK_THROWS_WITH(depthwise_conv(x.cpu().to(torch::kHalf), w.cpu().to(torch::kHalf), {}),
                    Contains("unsupported dtype Half"));
}
