#include "bench/op_bench.h"

#include <iomanip>
#include <map>
#include <ostream>

#include <torch/torch.h>

#include "bench/timing.h"
#include "ops/depthwise_conv.h"

namespace convpt::bench {
namespace {

// LibTorch's own depthwise convolution, as a user would call it on the model's [B, T, C] layout: transpose to
// [B, C, T], expand the per-head taps to one filter per channel, pad like the op's window, transpose back.
torch::Tensor torch_depthwise_conv1d(const torch::Tensor& x, const torch::Tensor& taps) {
  const int64_t channels = x.size(2), k = taps.size(1);
  const torch::Tensor filters = taps.repeat_interleave(channels / taps.size(0), 0).unsqueeze(1);  // [C, 1, k]
  const int64_t left = ops::window_offset(k, ops::ConvWindow::centred);
  namespace F = torch::nn::functional;
  const torch::Tensor padded = F::pad(x.transpose(1, 2), F::PadFuncOptions({left, k - 1 - left}));
  return F::conv1d(padded, filters, F::Conv1dFuncOptions().groups(channels)).transpose(1, 2);
}

}  // namespace

MachineLimits measure_machine_limits(torch::Dtype dtype, torch::Device device) {
  MachineLimits limits;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const torch::Tensor source = torch::rand({64 << 20}, options);  // 256 MB: far beyond the caches
  torch::Tensor target = torch::empty_like(source);
  const Timing copy = time_device([&] { target.copy_(source); }, device, 1, 5);
  limits.copy_gb_per_s = 2.0 * source.numel() * source.element_size() / (copy.median_ms * 1e6);
  const torch::Tensor a = torch::randn({2048, 2048}, options.dtype(dtype)), b = torch::randn_like(a);
  const Timing gemm = time_device([&] { torch::mm(a, b); }, device, 1, 5);
  limits.gemm_gflop_per_s = 2.0 * 2048 * 2048 * 2048 / (gemm.median_ms * 1e6);
  return limits;
}

std::vector<OpBenchRow> run_op_bench(const OpBenchOptions& o) {
  std::vector<OpBenchRow> rows;
  const auto options = torch::TensorOptions().dtype(o.dtype).device(o.device);
  const double element = torch::elementSize(o.dtype);
  for (const int64_t length : o.lengths) {
    const double activations = double(o.batch) * length * o.channels;
    const torch::Tensor x = torch::randn({o.batch, length, o.channels}, options).requires_grad_();
    const torch::Tensor grad_out = torch::randn_like(x);

    // Runs one op forward, and forward+backward with respect to all inputs, and records both rows.
    auto measure = [&](const std::string& name, int64_t k, const std::vector<torch::Tensor>& inputs,
                       const std::function<torch::Tensor()>& forward, double bytes_forward, double flops_forward) {
      const Timing fwd = time_device([&] { torch::NoGradGuard no_grad; forward(); }, o.device, o.warmup, o.repeats);
      rows.push_back({name, "forward", o.batch, length, o.channels, k, fwd.median_ms, fwd.min_ms, fwd.max_ms,
                      bytes_forward, flops_forward});
      const Timing both = time_device([&] { torch::autograd::grad({forward()}, inputs, {grad_out}); }, o.device,
                                      o.warmup, o.repeats);
      // Backward reads grad_out and the input again and writes grad_input: 2.5x the forward traffic in all; its
      // useful work is twice the forward's (input and weight gradients).
      rows.push_back({name, "forward+backward", o.batch, length, o.channels, k, both.median_ms, both.min_ms,
                      both.max_ms, 2.5 * bytes_forward, 3.0 * flops_forward});
    };

    for (const int64_t k : o.kernel_sizes) {
      // Static taps with one head per channel (H = C), softmax-normalised, as the paper's released code.
      const torch::Tensor taps = torch::softmax(torch::randn({o.channels, k}, options), -1).requires_grad_();
      const ops::DepthwiseConvSpec spec{1, ops::ConvWindow::centred};
      const double bytes = 2.0 * activations * element, flops = 2.0 * k * activations;
      measure("conv reference", k, {x, taps}, [&] { return ops::depthwise_conv_reference(x, taps, spec); }, bytes,
              flops);
      measure(o.device.is_cuda() ? "conv fast (CUDA)" : "conv fast (CPU)", k, {x, taps},
              [&] { return ops::depthwise_conv(x, taps, spec); }, bytes, flops);
      measure("torch conv1d depthwise", k, {x, taps}, [&] { return torch_depthwise_conv1d(x, taps); }, bytes, flops);
    }
    // Attention at the same width, for scale: q, k, v and output of [B, T, C]; QK^T and PV are 4 B T^2 C FLOPs.
    const int64_t heads = o.attention_heads, head_dim = o.channels / o.attention_heads;
    auto split = [&](const torch::Tensor& t) { return t.view({o.batch, length, heads, head_dim}).transpose(1, 2); };
    const torch::Tensor q = torch::randn_like(x).requires_grad_(), kk = torch::randn_like(x).requires_grad_();
    measure("attention (SDPA)", 0, {x, q, kk},
            [&] { return at::scaled_dot_product_attention(split(q), split(kk), split(x)).transpose(1, 2)
                      .reshape({o.batch, length, o.channels}); },
            4.0 * activations * element, 4.0 * activations * length);
  }
  return rows;
}

namespace {
double gb_per_s(const OpBenchRow& r) { return r.bytes / (r.median_ms * 1e6); }
double gflop_per_s(const OpBenchRow& r) { return r.flops / (r.median_ms * 1e6); }
}  // namespace

void print_op_table(std::ostream& out, const std::vector<OpBenchRow>& rows, const MachineLimits& limits) {
  out << "machine: copy bandwidth " << std::fixed << std::setprecision(1) << limits.copy_gb_per_s
      << " GB/s, GEMM (2048^3) " << limits.gemm_gflop_per_s << " GFLOP/s\n";
  out << std::left << std::setw(24) << "op" << std::setw(18) << "pass" << std::right << std::setw(6) << "T"
      << std::setw(4) << "k" << std::setw(11) << "median ms" << std::setw(19) << "(min - max)" << std::setw(9)
      << "GB/s" << std::setw(7) << "%copy" << std::setw(9) << "GFLOP/s" << std::setw(10) << "vs ref" << "\n";
  std::map<std::tuple<std::string, int64_t, int64_t>, double> reference_ms;
  for (const auto& r : rows)
    if (r.op == "conv reference") reference_ms[{r.pass, r.length, r.kernel_size}] = r.median_ms;
  for (const auto& r : rows) {
    std::ostringstream spread, speedup;
    spread << std::fixed << std::setprecision(2) << "(" << r.min_ms << " - " << r.max_ms << ")";
    if (const auto it = reference_ms.find({r.pass, r.length, r.kernel_size}); it != reference_ms.end() && r.kernel_size)
      speedup << std::fixed << std::setprecision(2) << it->second / r.median_ms << "x";
    out << std::left << std::setw(24) << r.op << std::setw(18) << r.pass << std::right << std::setw(6) << r.length
        << std::setw(4) << r.kernel_size << std::setw(11) << std::setprecision(2) << r.median_ms << std::setw(19)
        << spread.str() << std::setw(9) << std::setprecision(1) << gb_per_s(r) << std::setw(6) << std::setprecision(0)
        << 100.0 * gb_per_s(r) / limits.copy_gb_per_s << "%" << std::setw(9) << std::setprecision(1)
        << gflop_per_s(r) << std::setw(10) << speedup.str() << "\n";
  }
}

void write_op_csv(std::ostream& out, const std::vector<OpBenchRow>& rows, const MachineLimits& limits) {
  out << "op,pass,batch,length,channels,kernel_size,median_ms,min_ms,max_ms,gb_per_s,gflop_per_s,"
         "machine_copy_gb_per_s,machine_gemm_gflop_per_s\n";
  for (const auto& r : rows)
    out << r.op << "," << r.pass << "," << r.batch << "," << r.length << "," << r.channels << "," << r.kernel_size
        << "," << r.median_ms << "," << r.min_ms << "," << r.max_ms << "," << gb_per_s(r) << "," << gflop_per_s(r)
        << "," << limits.copy_gb_per_s << "," << limits.gemm_gflop_per_s << "\n";
}

}  // namespace convpt::bench
