#include "ops/depthwise_conv_cpu.h"

#include <algorithm>
#include <bit>
#include <cstring>
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
  // How far the window reaches back (left) or ahead: -shift(0) or shift(k - 1).
  int64_t reach(bool left) const { return left ? offset * dilation : (k - 1 - offset) * dilation; }
  // Rows per parallel task: about 32k multiply-adds, ATen's grain size for elementwise work.
  int64_t grain() const { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, k * C)); }
};

// The kernels compute on Vec: 64 bytes of the accumulation type (16 floats, 8 doubles), one AVX-512 register, two
// AVX2 or four SSE2 ones. GCC's vector extension lets each target clone (KERNEL_CLONES) compile the same code to its
// own instructions, while the build itself stays baseline x86-64.
template <typename T>
struct VecOf {
  typedef T type __attribute__((vector_size(64)));
};
template <typename T>
using Vec = typename VecOf<T>::type;
template <typename T>
constexpr int64_t lanes = 64 / sizeof(T);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL_CLONES
#endif
// Helpers called from the clones must be inlined into them, to be compiled for the clone's instructions; so no Vec
// ever crosses a call, and GCC's note that passing one changes the ABI between targets does not apply.
#define KERNEL_INLINE [[gnu::always_inline]] inline
#pragma GCC diagnostic ignored "-Wpsabi"

// The first n (<= lanes) elements at p, zeros beyond.
template <typename V, typename T>
KERNEL_INLINE V load_lanes(const T* p, int64_t n) {
  V v{};
  std::memcpy(&v, p, n * sizeof(T));
  return v;
}

// p[0 .. n-1] as a Vec of the accumulation type; bfloat16 is the upper half of a float, widened by a shift.
template <typename scalar_t>
KERNEL_INLINE Vec<at::opmath_type<scalar_t>> load(const scalar_t* p, int64_t n) {
  using acc_t = at::opmath_type<scalar_t>;
  if constexpr (std::is_same_v<scalar_t, c10::BFloat16>) {
    typedef uint16_t Bits __attribute__((vector_size(lanes<acc_t> * 2)));
    typedef uint32_t Wide __attribute__((vector_size(lanes<acc_t> * 4)));
    return std::bit_cast<Vec<acc_t>>(__builtin_convertvector(load_lanes<Bits>(p, n), Wide) << 16);
  } else {
    return load_lanes<Vec<acc_t>>(p, n);
  }
}

// p[0 .. n-1] = v[0 .. n-1], rounded to scalar_t.
template <typename scalar_t, typename acc_t = at::opmath_type<scalar_t>>
KERNEL_INLINE void store(scalar_t* p, const Vec<acc_t>& v, int64_t n) {
  if constexpr (std::is_same_v<scalar_t, acc_t>)
    std::memcpy(p, &v, n * sizeof(acc_t));
  else
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<scalar_t>(v[i]);
}

// The taps as rows over channels, so that the kernels load one vector of channels at a time whatever H is (the paper's
// default H = C would otherwise leave one channel per head). tile(b, t, j, c0, n) holds channels c0 .. c0+n-1 of
// tap j at output position (b, t).
template <typename scalar_t, bool dynamic>
class ChannelTaps {
 public:
  using acc_t = at::opmath_type<scalar_t>;

  ChannelTaps(const Geometry& g, const scalar_t* weight) : g_(g), weight_(weight), head_(g.C) {
    for (int64_t c = 0; c < g.C; ++c) head_[c] = c / g.channels_per_head() * g.k;
    if constexpr (!dynamic) {  // the same everywhere: expand [H, k] to [k, C] once
      table_.resize(g.k * g.C);
      for (int64_t j = 0; j < g.k; ++j)
        for (int64_t c = 0; c < g.C; ++c) table_[j * g.C + c] = weight[head_[c] + j];
    }
  }

  KERNEL_INLINE Vec<acc_t> tile(int64_t b, int64_t t, int64_t j, int64_t c0, int64_t n) const {
    if constexpr (dynamic) {  // gathered from [B, T, H, k]
      const scalar_t* w = weight_ + (b * g_.T + t) * g_.H * g_.k + j;
      acc_t v[lanes<acc_t>];
      for (int64_t i = 0; i < n; ++i) v[i] = static_cast<acc_t>(w[head_[c0 + i]]);
      return load_lanes<Vec<acc_t>>(v, n);
    } else {
      return load(table_.data() + j * g_.C + c0, n);
    }
  }

 private:
  const Geometry& g_;
  const scalar_t* weight_;
  std::vector<int64_t> head_;  // head_[c] = h(c) * k, the offset of channel c's taps in a [H, k] matrix
  std::vector<acc_t> table_;
};

// Register blocks: the convolution keeps conv_rows output rows of one vector of channels in registers across all k
// taps, and the weight gradient the sums of grad_w_taps taps across a block of rows; each is stored once at the end,
// and each static tap (or grad_out row) is loaded once for the whole register block. Sized to fit the 16 AVX2
// registers (2 per Vec).
constexpr int64_t conv_rows = 4, grad_w_taps = 4;
// Rows per block of the weight gradient: small enough that the block's rows stay in L2 while all its channel tiles
// run over them; large enough to spread the loads and stores of the partial sums.
constexpr int64_t grad_w_rows = 64;

// Calls tile(b, t_begin, t_end, c0, n) for rows [begin, end), cut into blocks of at most block_rows times within
// one batch item, each swept one vector of channels (a tile: c0 .. c0+n-1) at a time; blocks run in order, so that
// memory is read row after row, as the hardware prefetchers expect. Full tiles pass n as a constant into the inlined
// tile, so that their loads and stores compile to plain vector ones; only a last tile (C not a multiple of lanes)
// takes the element-wise path.
template <typename acc_t, typename F>
KERNEL_INLINE void for_each_tile(const Geometry& g, int64_t begin, int64_t end, int64_t block_rows, const F& tile) {
  for (int64_t row = begin; row < end;) {
    const int64_t b = row / g.T, t_begin = row % g.T;
    const int64_t t_end = std::min({g.T, t_begin + block_rows, t_begin + end - row});
    for (int64_t c0 = 0; c0 < g.C; c0 += lanes<acc_t>) {
      if (const int64_t n = g.C - c0; n >= lanes<acc_t>)
        tile(b, t_begin, t_end, c0, lanes<acc_t>);
      else
        tile(b, t_begin, t_end, c0, n);
    }
    row += t_end - t_begin;
  }
}

// transposed = false, the forward:  out[b, t] = sum_j tap(b, t, j) * in[b, t + shift(j)].
// transposed = true, grad_x from grad_out:  out[b, s] = sum_j tap(b, s - shift(j), j) * in[b, s - shift(j)];
// dynamic taps are those of the output position s - shift(j) that they multiplied x[s] for.
// One thread's share: output rows [begin, end).
template <typename scalar_t, bool dynamic, bool transposed>
KERNEL_CLONES void convolve_rows(const Geometry& g, const ChannelTaps<scalar_t, dynamic>& taps, const scalar_t* in,
                                 scalar_t* out, int64_t begin, int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  // Each block is one register block: output rows t .. t+conv_rows-1 (fewer at the end of a batch item or a share).
  for_each_tile<acc_t>(g, begin, end, conv_rows, [&](int64_t b, int64_t t, int64_t t_end, int64_t c0, int64_t n)
                                                     __attribute__((always_inline)) {
    Vec<acc_t> acc[conv_rows] = {};
    // checked: some of the block's terms fall past its end or into the zero padding
    const auto accumulate = [&](auto checked) __attribute__((always_inline)) {
      for (int64_t j = 0; j < g.k; ++j) {
        const int64_t shift = transposed ? -g.shift(j) : g.shift(j);
        Vec<acc_t> w{};
        if constexpr (!dynamic) w = taps.tile(b, t, j, c0, n);  // static: the same for all rows
        for (int64_t r = 0; r < conv_rows; ++r) {
          const int64_t src = t + r + shift;
          if (checked && (t + r >= t_end || src < 0 || src >= g.T)) continue;
          if constexpr (dynamic) w = taps.tile(b, transposed ? src : t + r, j, c0, n);
          acc[r] += w * load(in + (b * g.T + src) * g.C + c0, n);
        }
      }
    };
    if (t + conv_rows <= t_end && t - g.reach(!transposed) >= 0 && t + conv_rows - 1 + g.reach(transposed) < g.T)
      accumulate(std::false_type());
    else
      accumulate(std::true_type());
    for (int64_t r = 0; r < t_end - t; ++r) store(out + (b * g.T + t + r) * g.C + c0, acc[r], n);
  });
}

template <typename scalar_t, bool dynamic>
void convolve(const Geometry& g, const ChannelTaps<scalar_t, dynamic>& taps, const scalar_t* in, scalar_t* out,
              bool transposed) {
  at::parallel_for(0, g.rows(), g.grain(), [&](int64_t begin, int64_t end) {
    if (transposed)
      convolve_rows<scalar_t, dynamic, true>(g, taps, in, out, begin, end);
    else
      convolve_rows<scalar_t, dynamic, false>(g, taps, in, out, begin, end);
  });
}

// products[j * C + c] += sum over rows [begin, end) of grad_out[row, c] * x[row + shift(j), c]
template <typename scalar_t>
KERNEL_CLONES void add_weight_products(const Geometry& g, const scalar_t* x, const scalar_t* grad_out, int64_t begin,
                                       int64_t end, at::opmath_type<scalar_t>* products) {
  using acc_t = at::opmath_type<scalar_t>;
  for_each_tile<acc_t>(g, begin, end, grad_w_rows, [&](int64_t b, int64_t t_begin, int64_t t_end, int64_t c0,
                                                       int64_t n) __attribute__((always_inline)) {
    for (int64_t j0 = 0; j0 < g.k; j0 += grad_w_taps) {
      Vec<acc_t> acc[grad_w_taps] = {};
      // checked: some of the register block's terms fall past the last tap or into the zero padding
      const auto accumulate = [&](auto checked) __attribute__((always_inline)) {
        for (int64_t t = t_begin; t < t_end; ++t) {
          const Vec<acc_t> grad = load(grad_out + (b * g.T + t) * g.C + c0, n);
          for (int64_t i = 0; i < grad_w_taps; ++i) {
            const int64_t src = t + g.shift(j0 + i);
            if (checked && (j0 + i >= g.k || src < 0 || src >= g.T)) continue;
            acc[i] += grad * load(x + (b * g.T + src) * g.C + c0, n);
          }
        }
      };
      if (j0 + grad_w_taps <= g.k && t_begin - g.reach(true) >= 0 && t_end - 1 + g.reach(false) < g.T)
        accumulate(std::false_type());
      else
        accumulate(std::true_type());
      for (int64_t i = 0; i < grad_w_taps && j0 + i < g.k; ++i) {
        acc_t* p = products + (j0 + i) * g.C + c0;
        store(p, load(p, n) + acc[i], n);
      }
    }
  });
}

// grad_w[h, j] (static) or grad_w[b, t, h, j] (dynamic): grad_out[b, t, c] * x[b, t + shift(j), c] summed over
// head h's channels, and for static taps also over b and t.
template <typename scalar_t, bool dynamic>
void weight_grad(const Geometry& g, const scalar_t* x, const scalar_t* grad_out, scalar_t* grad_w) {
  using acc_t = at::opmath_type<scalar_t>;
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
        add_weight_products(g, x, grad_out, row, row + 1, products.data());
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
        add_weight_products(g, x, grad_out, chunk * g.rows() / chunks, (chunk + 1) * g.rows() / chunks,
                            partial.data() + chunk * g.k * g.C);
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
