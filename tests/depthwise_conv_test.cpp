// The depthwise conv op: the semantics pinned by hand-computed cases (for the reference and the fast op), the fast
// CPU op against the reference (forward and both gradients, double and bfloat16, over kernel sizes, lengths, heads,
// windows and dilations), finite differences, and argument and device errors.
#include "testing.h"  // first: see there

#include "depthwise_conv_testing.h"
#include "ops/depthwise_conv.h"

using convpt::ops::ConvWindow;
using convpt::ops::depthwise_conv;
using convpt::ops::depthwise_conv_reference;
using convpt::ops::DepthwiseConvSpec;
using convpt::ops::window_offset;
using Catch::Matchers::Contains;

namespace {

using convpt::test::Conv;
using Result = convpt::test::ConvResult;
constexpr auto run = convpt::test::run_conv;
using convpt::test::relative_error;
const std::vector<std::pair<std::string, Conv>> implementations = {{"fast", depthwise_conv},
                                                                   {"reference", depthwise_conv_reference}};

std::vector<double> values(const torch::Tensor& t) {
  const torch::Tensor d = t.detach().to(torch::kDouble).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

// A sequence [1, T, 1] (one batch, one channel) of doubles; reshaped where other shapes are needed.
torch::Tensor sequence(const std::vector<double>& v) {
  return torch::tensor(v, torch::kDouble).view({1, -1, 1});
}

// The message of the std::invalid_argument that f throws; fails the test if it throws nothing or something else.
std::string invalid_argument_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("expected std::invalid_argument");
  return "";
}

}  // namespace

TEST_CASE("window offset: centred rounds down, causal ends at t", "[depthwise_conv]") {
  CHECK(window_offset(1, ConvWindow::centred) == 0);
  CHECK(window_offset(1, ConvWindow::causal) == 0);
  CHECK(window_offset(2, ConvWindow::centred) == 0);
  CHECK(window_offset(4, ConvWindow::centred) == 1);
  CHECK(window_offset(7, ConvWindow::centred) == 3);
  CHECK(window_offset(7, ConvWindow::causal) == 6);
  CHECK_THROWS_AS(window_offset(0, ConvWindow::centred), std::invalid_argument);
}

TEST_CASE("hand-computed cases pin the semantics in both implementations", "[depthwise_conv]") {
  const torch::Tensor x4 = sequence({1, 2, 3, 4});
  const torch::Tensor ones4 = torch::ones_like(x4);
  for (const auto& [name, conv] : implementations) {
    INFO(name);
    {
      INFO("k=3 centred: out[t] = a x[t-1] + b x[t] + c x[t+1]");
      const Result r = run(conv, x4, sequence({1, 10, 100}).view({1, 3}), {}, ones4);
      CHECK(values(r.out) == std::vector<double>{210, 321, 432, 43});
      CHECK(values(r.grad_x) == std::vector<double>{11, 111, 111, 110});
      CHECK(values(r.grad_weight) == std::vector<double>{6, 10, 9});
    }
    {
      INFO("k=3 causal: out[t] = a x[t-2] + b x[t-1] + c x[t]");
      const Result r = run(conv, x4, sequence({1, 10, 100}).view({1, 3}), {.window = ConvWindow::causal}, ones4);
      CHECK(values(r.out) == std::vector<double>{100, 210, 321, 432});
      CHECK(values(r.grad_x) == std::vector<double>{111, 111, 110, 100});
      CHECK(values(r.grad_weight) == std::vector<double>{3, 6, 10});
    }
    {
      INFO("even k=2 centred reaches right: out[t] = a x[t] + b x[t+1]");
      const Result r = run(conv, x4, sequence({1, 10}).view({1, 2}), {}, ones4);
      CHECK(values(r.out) == std::vector<double>{21, 32, 43, 4});
    }
    {
      INFO("dilation 2: out[t] = a x[t-2] + b x[t] + c x[t+2]");
      const Result r = run(conv, sequence({1, 2, 3, 4, 5}), sequence({1, 10, 100}).view({1, 3}), {.dilation = 2},
                           torch::ones({1, 5, 1}, torch::kDouble));
      CHECK(values(r.out) == std::vector<double>{310, 420, 531, 42, 53});
    }
    {
      INFO("k=7 longer than T=2");
      const Result r = run(conv, sequence({1, 2}), sequence({1, 2, 3, 4, 5, 6, 7}).view({1, 7}), {},
                           torch::ones({1, 2, 1}, torch::kDouble));
      CHECK(values(r.out) == std::vector<double>{4 + 10, 3 + 8});
    }
    {
      INFO("dynamic taps belong to the output position");
      // out[t] = w[t, 0] x[t-1] + w[t, 1] x[t]; grad_x[s] = w[s+1, 0] + w[s, 1]; grad_w[t, j] = x[t - 1 + j]
      const torch::Tensor w = sequence({1, 10, 2, 20, 3, 30}).view({1, 3, 1, 2});
      const Result r = run(conv, sequence({1, 2, 3}), w, {.window = ConvWindow::causal},
                           torch::ones({1, 3, 1}, torch::kDouble));
      CHECK(values(r.out) == std::vector<double>{10, 42, 96});
      CHECK(values(r.grad_x) == std::vector<double>{12, 23, 30});
      CHECK(values(r.grad_weight) == std::vector<double>{0, 1, 1, 2, 2, 3});
    }
    {
      INFO("heads are contiguous blocks of channels");
      const torch::Tensor x = sequence({1, 2, 3, 4}).view({1, 1, 4});
      const torch::Tensor ones = torch::ones_like(x);
      const Result s = run(conv, x, sequence({2, 3}).view({2, 1}), {}, ones);
      CHECK(values(s.out) == std::vector<double>{2, 4, 9, 12});
      CHECK(values(s.grad_weight) == std::vector<double>{3, 7});
      const Result d = run(conv, x, sequence({2, 3}).view({1, 1, 2, 1}), {}, ones);
      CHECK(values(d.out) == std::vector<double>{2, 4, 9, 12});
      CHECK(values(d.grad_weight) == std::vector<double>{3, 7});
    }
  }
}

TEST_CASE("fast op equals the reference: forward, grad x, grad weight", "[depthwise_conv]") {
  const bool dynamic = GENERATE(false, true);
  const bool causal = GENERATE(false, true);
  const int64_t dilation = GENERATE(1, 3);
  const int64_t k = GENERATE(1, 2, 3, 4, 7, 9, 15, 31);
  const int64_t H = GENERATE(1, 4, 12);
  constexpr int64_t B = 2, C = 12;
  const DepthwiseConvSpec spec{.dilation = dilation, .window = causal ? ConvWindow::causal : ConvWindow::centred};
  torch::manual_seed(k * 1000 + H);
  std::vector<int64_t> lengths = {1, k, 33, 513};
  if (k > 2) lengths.push_back(k - 1);
  for (const int64_t T : lengths) {
    CAPTURE(dynamic, causal, dilation, k, H, T);
    const torch::Tensor x = torch::randn({B, T, C}, torch::kDouble);
    const torch::Tensor w = dynamic ? torch::randn({B, T, H, k}, torch::kDouble) : torch::randn({H, k}, torch::kDouble);
    const torch::Tensor g = torch::randn({B, T, C}, torch::kDouble);

    const Result fast = run(depthwise_conv, x, w, spec, g), ref = run(depthwise_conv_reference, x, w, spec, g);
    CHECK(relative_error(fast.out, ref.out) < 1e-10);
    CHECK(relative_error(fast.grad_x, ref.grad_x) < 1e-10);
    CHECK(relative_error(fast.grad_weight, ref.grad_weight) < 1e-10);

    // bfloat16 against the double reference of the same (rounded) inputs
    const auto bf16 = [](const torch::Tensor& t) { return t.to(torch::kBFloat16); };
    const Result fast16 = run(depthwise_conv, bf16(x), bf16(w), spec, bf16(g));
    const Result ref16 = run(depthwise_conv_reference, bf16(x).to(torch::kDouble), bf16(w).to(torch::kDouble), spec,
                             bf16(g).to(torch::kDouble));
    CHECK(fast16.out.scalar_type() == torch::kBFloat16);
    CHECK(fast16.grad_weight.scalar_type() == torch::kBFloat16);
    CHECK(relative_error(fast16.out, ref16.out) < 1e-2);
    CHECK(relative_error(fast16.grad_x, ref16.grad_x) < 1e-2);
    CHECK(relative_error(fast16.grad_weight, ref16.grad_weight) < 1e-2);
  }
}

TEST_CASE("fast op in float32 and on non-contiguous inputs equals the reference", "[depthwise_conv]") {
  torch::manual_seed(7);
  const DepthwiseConvSpec spec{.dilation = 2, .window = ConvWindow::causal};
  // x as a transposed [B, C, T] tensor, dynamic taps as a slice of a wider tensor
  const torch::Tensor x = torch::randn({3, 16, 40}).transpose(1, 2);
  const torch::Tensor w = torch::randn({3, 40, 4, 10}).narrow(3, 2, 5);
  const torch::Tensor g = torch::randn({3, 40, 16});
  REQUIRE_FALSE(x.is_contiguous());
  REQUIRE_FALSE(w.is_contiguous());
  const Result fast = run(depthwise_conv, x, w, spec, g), ref = run(depthwise_conv_reference, x, w, spec, g);
  CHECK(relative_error(fast.out, ref.out) < 1e-5);
  CHECK(relative_error(fast.grad_x, ref.grad_x) < 1e-5);
  CHECK(relative_error(fast.grad_weight, ref.grad_weight) < 1e-5);
}

TEST_CASE("an empty batch gives an empty output and zero static weight gradients", "[depthwise_conv]") {
  const torch::Tensor x = torch::zeros({0, 5, 6}, torch::kDouble);
  const Result r = run(depthwise_conv, x, torch::ones({3, 4}, torch::kDouble), {}, x);
  CHECK(r.out.sizes() == x.sizes());
  CHECK(r.grad_x.sizes() == x.sizes());
  CHECK(values(r.grad_weight) == std::vector<double>(12, 0.0));
}

TEST_CASE("fast op's gradients match finite differences of its forward", "[depthwise_conv]") {
  torch::manual_seed(3);
  const bool dynamic = GENERATE(false, true);
  CAPTURE(dynamic);
  const DepthwiseConvSpec spec{.dilation = 2, .window = ConvWindow::centred};
  const torch::Tensor x = torch::randn({2, 6, 4}, torch::kDouble);
  const torch::Tensor w = dynamic ? torch::randn({2, 6, 2, 4}, torch::kDouble) : torch::randn({2, 4}, torch::kDouble);
  const torch::Tensor g = torch::randn({2, 6, 4}, torch::kDouble);
  const Result r = run(depthwise_conv, x, w, spec, g);
  const auto loss = [&](const torch::Tensor& xv, const torch::Tensor& wv) {
    return (depthwise_conv(xv, wv, spec) * g).sum().item<double>();
  };
  constexpr double eps = 1e-6;
  for (const auto& [input, grad] : {std::pair{x, r.grad_x}, std::pair{w, r.grad_weight}}) {
    const torch::Tensor flat = input.view(-1);
    const std::vector<double> analytic = values(grad);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double v = flat[i].item<double>();
      flat[i] = v + eps;
      const double up = loss(x, w);
      flat[i] = v - eps;
      const double down = loss(x, w);
      flat[i] = v;
      CHECK((up - down) / (2 * eps) == Approx(analytic[i]).margin(1e-7));
    }
  }
}

TEST_CASE("fast op computes only the gradients asked for and refuses higher-order ones", "[depthwise_conv]") {
  convpt::test::check_gradients_asked_for(torch::kCPU);
}

TEST_CASE("bad arguments are rejected with a message naming the problem", "[depthwise_conv]") {
  const auto f64 = torch::kDouble;
  const torch::Tensor x = torch::zeros({2, 5, 6}, f64);
  const torch::Tensor w = torch::zeros({3, 4}, f64);
  for (const auto& [name, conv] : implementations) {
    INFO(name);
    const auto error = [conv](const torch::Tensor& xv, const torch::Tensor& wv, DepthwiseConvSpec spec = {}) {
      return invalid_argument_of([&] { conv(xv, wv, spec); });
    };
    CHECK_THAT(error(torch::zeros({5, 6}, f64), w), Contains("x must be [B, T, C]"));
    CHECK_THAT(error(x, torch::zeros({3, 4, 1}, f64)), Contains("weight must be [H, k]"));
    CHECK_THAT(error(x, torch::zeros({4, 3}, f64)), Contains("C = 6 are not divisible by heads H = 4"));
    CHECK_THAT(error(x, torch::zeros({3, 4}, torch::kFloat)), Contains("weight dtype Float differs from x dtype Double"));
    CHECK_THAT(error(x.to(torch::kHalf), w.to(torch::kHalf)), Contains("unsupported dtype Half"));
    CHECK_THAT(error(x.to(torch::kInt), w.to(torch::kInt)), Contains("unsupported dtype Int"));
    CHECK_THAT(error(x, torch::zeros({2, 4, 3, 4}, f64)), Contains("must match x"));
    CHECK_THAT(error(x, torch::zeros({1, 5, 3, 4}, f64)), Contains("must match x"));
    CHECK_THAT(error(x, torch::zeros({3, 0}, f64)), Contains("kernel size k"));
    CHECK_THAT(error(x, w, {.dilation = 0}), Contains("dilation must be >= 1"));
    CHECK_THAT(error(x, w.to(torch::kMeta)), Contains("weight is on meta but x is on cpu"));
  }
}

TEST_CASE("a device without an implementation is an error, not a fallback", "[depthwise_conv]") {
  const torch::Tensor x = torch::empty({2, 5, 6}, torch::TensorOptions().dtype(torch::kFloat).device(torch::kMeta));
  const torch::Tensor w = torch::empty({3, 4}, x.options());
  CHECK_THROWS_AS(depthwise_conv(x, w, {}), std::runtime_error);
  CHECK_THROWS_WITH(depthwise_conv(x, w, {}), Contains("no implementation for device 'meta'"));
}
