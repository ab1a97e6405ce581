#include "ops/depthwise_conv_cpu.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

namespace convpt::ops::detail {

namespace {

// Sizes of one call. Rows are the B * T positions (b, t), each C contiguous channels.
struct Geometry {
  int64_t B, T, C, H, k, offset, dilation;
  bool dynamic;

  Geometry(const torch::Tensor& x, const torch::Tensor& weight, int64_t offset_, int64_t dilation_)
      : B(x.size(0)),
        T(x.size(1)),
        C(x.size(2)),
        H(weight.size(weight.dim() == 4 ? 2 : 0)),
        k(weight.size(-1)),
        offset(offset_),
        dilation(dilation_),
        dynamic(weight.dim() == 4) {}

  int64_t rows() const { return B * T; }
  int64_t channels_per_head() const { return C / H; }
  int64_t shift(int64_t j) const { return (j - offset) * dilation; }  // time offset of tap j
  // Rows per parallel task: about 32k multiply-adds, ATen's grain size for elementwise work.
  int64_t grain() const { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, k * C)); }
};

// acc[c] += a[c] * b[c]: the inner loop of every kernel, over contiguous channels so that the compiler vectorises it.
template <typename acc_t, typename A, typename Bv>
inline void multiply_add(acc_t* __restrict acc, const A* __restrict a, const Bv* __restrict b, int64_t n) {
  for (int64_t c = 0; c < n; ++c) acc[c] += static_cast<acc_t>(a[c]) * static_cast<acc_t>(b[c]);
}

// The taps as rows over channels, so that the inner loops run over contiguous channels whatever H is (the paper's
// default H = C would otherwise leave one channel per head). tap(b, t, j) is channel c's weight for tap j at output
// position (b, t), for c = 0 .. C-1.
template <typename scalar_t, bool dynamic>
class ChannelTaps {
 public:
  using acc_t = at::opmath_type<scalar_t>;

  ChannelTaps(const Geometry& g, const scalar_t* weight) : g_(g), weight_(weight) {
    if constexpr (!dynamic) {  // the same everywhere: expand [H, k] to [k, C] once
      table_.resize(g.k * g.C);
      for (int64_t j = 0; j < g.k; ++j)
        for (int64_t c = 0; c < g.C; ++c) table_[j * g.C + c] = weight[c / g.channels_per_head() * g.k + j];
    }
  }

  // `scratch` holds C values owned by the calling thread; dynamic taps are expanded into it.
  const acc_t* tap(int64_t b, int64_t t, int64_t j, acc_t* scratch) const {
    if constexpr (dynamic) {
      const scalar_t* w = weight_ + (b * g_.T + t) * g_.H * g_.k + j;
      const int64_t G = g_.channels_per_head();
      if (G == 1)  // H = C: one strided copy, much faster than C fills of length 1
        for (int64_t c = 0; c < g_.C; ++c) scratch[c] = static_cast<acc_t>(w[c * g_.k]);
      else
        for (int64_t h = 0; h < g_.H; ++h) std::fill_n(scratch + h * G, G, static_cast<acc_t>(w[h * g_.k]));
      return scratch;
    } else {
      return table_.data() + j * g_.C;
    }
  }

 private:
  const Geometry& g_;
  const scalar_t* weight_;
  std::vector<acc_t> table_;
};

// transposed = false, the forward:  out[b, t] = sum_j tap(b, t, j) * in[b, t + shift(j)].
// transposed = true, grad_x from grad_out:  out[b, s] = sum_j tap(b, s - shift(j), j) * in[b, s - shift(j)];
// dynamic taps are those of the output position s - shift(j) that they multiplied x[s] for.
template <typename scalar_t, bool dynamic>
void convolve(const Geometry& g, const ChannelTaps<scalar_t, dynamic>& taps, const scalar_t* in, scalar_t* out,
              bool transposed) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, g.rows(), g.grain(), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(g.C), scratch(dynamic ? g.C : 0);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / g.T, t = row % g.T;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t j = 0; j < g.k; ++j) {
        const int64_t src = transposed ? t - g.shift(j) : t + g.shift(j);
        if (src < 0 || src >= g.T) continue;  // zero padding
        const acc_t* w = taps.tap(b, transposed ? src : t, j, scratch.data());
        multiply_add(acc.data(), w, in + (b * g.T + src) * g.C, g.C);
      }
      std::transform(acc.begin(), acc.end(), out + row * g.C, [](acc_t v) { return static_cast<scalar_t>(v); });
    }
  });
}

// grad_w[h, j] (static) or grad_w[b, t, h, j] (dynamic): grad_out[b, t, c] * x[b, t + shift(j), c] summed over
// head h's channels, and for static taps also over b and t.
template <typename scalar_t, bool dynamic>
void weight_grad(const Geometry& g, const scalar_t* x, const scalar_t* grad_out, scalar_t* grad_w) {
  using acc_t = at::opmath_type<scalar_t>;
  // products[j * C + c] += grad_out[row, c] * x[row + shift(j), c]
  const auto add_products = [&](int64_t row, acc_t* products) {
    const int64_t b = row / g.T, t = row % g.T;
    for (int64_t j = 0; j < g.k; ++j) {
      const int64_t src = t + g.shift(j);
      if (src >= 0 && src < g.T)
        multiply_add(products + j * g.C, grad_out + row * g.C, x + (b * g.T + src) * g.C, g.C);
    }
  };
  // out[h * k + j] = sum of products[j * C + c] over head h's channels c
  const auto sum_heads = [&](const acc_t* products, scalar_t* out) {
    const int64_t G = g.channels_per_head();
    for (int64_t h = 0; h < g.H; ++h)
      for (int64_t j = 0; j < g.k; ++j) {
        const acc_t* p = products + j * g.C + h * G;
        out[h * g.k + j] = static_cast<scalar_t>(G == 1 ? *p : std::accumulate(p, p + G, acc_t(0)));
      }
  };

  if constexpr (dynamic) {
    at::parallel_for(0, g.rows(), g.grain(), [&](int64_t begin, int64_t end) {
      std::vector<acc_t> products(g.k * g.C);
      for (int64_t row = begin; row < end; ++row) {
        std::fill(products.begin(), products.end(), acc_t(0));
        add_products(row, products.data());
        sum_heads(products.data(), grad_w + row * g.H * g.k);
      }
    });
  } else {
    // A sum over all rows: each chunk of rows (one per thread at most) accumulates its own partial sums, with no
    // atomics or sharing; they are then added in chunk order, so the result does not depend on scheduling.
    const int64_t chunks = std::clamp<int64_t>(g.rows() / g.grain(), 1, at::get_num_threads());
    std::vector<acc_t> partial(chunks * g.k * g.C, acc_t(0));
    at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
      for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk)
        for (int64_t row = chunk * g.rows() / chunks; row < (chunk + 1) * g.rows() / chunks; ++row)
          add_products(row, partial.data() + chunk * g.k * g.C);
    });
    for (int64_t chunk = 1; chunk < chunks; ++chunk)
      for (int64_t i = 0; i < g.k * g.C; ++i) partial[i] += partial[chunk * g.k * g.C + i];
    sum_heads(partial.data(), grad_w);
  }
}

// Calls f.template operator()<scalar_t, dynamic>() for x's dtype and the kind of weight.
template <typename F>
void dispatch(const torch::Tensor& x, bool dynamic, const F& f) {
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "depthwise_conv_cpu", [&] {
    if (dynamic)
      f.template operator()<scalar_t, true>();
    else
      f.template operator()<scalar_t, false>();
  });
}

class DepthwiseConvCpu : public torch::autograd::Function<DepthwiseConvCpu> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in, int64_t offset, int64_t dilation) {
    const torch::Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
    ctx->save_for_backward({x, weight});
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["dilation"] = dilation;
    const Geometry g(x, weight, offset, dilation);
    torch::Tensor out = torch::empty_like(x);
    dispatch(x, g.dynamic, [&]<typename scalar_t, bool dynamic>() {
      const ChannelTaps<scalar_t, dynamic> taps(g, weight.data_ptr<scalar_t>());
      convolve(g, taps, x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), /*transposed=*/false);
    });
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    // The kernels below are not themselves differentiable; a graph built through them would be silently wrong.
    if (torch::GradMode::is_enabled())
      throw std::runtime_error("depthwise_conv: higher-order gradients (backward with create_graph=true) are not "
                               "implemented");
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1];
    const torch::Tensor grad_out = grad_outputs[0].contiguous();
    const Geometry g(x, weight, ctx->saved_data["offset"].toInt(), ctx->saved_data["dilation"].toInt());
    torch::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0)) grad_x = torch::empty_like(x);
    if (ctx->needs_input_grad(1)) grad_w = torch::empty_like(weight);
    dispatch(x, g.dynamic, [&]<typename scalar_t, bool dynamic>() {
      if (grad_x.defined()) {
        const ChannelTaps<scalar_t, dynamic> taps(g, weight.data_ptr<scalar_t>());
        convolve(g, taps, grad_out.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(), /*transposed=*/true);
      }
      if (grad_w.defined())
        weight_grad<scalar_t, dynamic>(g, x.data_ptr<scalar_t>(), grad_out.data_ptr<scalar_t>(),
                                       grad_w.data_ptr<scalar_t>());
    });
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor depthwise_conv_cpu(const torch::Tensor& x, const torch::Tensor& weight, const DepthwiseConvSpec& spec) {
  return DepthwiseConvCpu::apply(x, weight, window_offset(weight.size(-1), spec.window), spec.dilation);
}

}  // namespace convpt::ops::detail
