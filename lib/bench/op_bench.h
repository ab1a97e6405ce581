#pragma once
// Operator-level benchmark: the conv op (reference, fast CPU, CUDA when present) against LibTorch's depthwise
// conv1d and scaled-dot-product attention, forward and forward+backward, with achieved GB/s and GFLOP/s set
// against this machine's measured copy bandwidth and GEMM rate.
#include <iosfwd>
#include <string>
#include <vector>

#include <torch/types.h>

namespace convpt::bench {

struct OpBenchOptions {
  int64_t batch = 8;
  std::vector<int64_t> lengths = {512, 4096};
  int64_t channels = 768;
  std::vector<int64_t> kernel_sizes = {3, 7, 15, 31};
  int64_t attention_heads = 12;
  torch::Dtype dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
  int warmup = 1;
  int repeats = 5;
};

struct OpBenchRow {
  std::string op, pass;  // pass: "forward" or "forward+backward"
  int64_t batch, length, channels, kernel_size;
  double median_ms, min_ms, max_ms;
  double bytes, flops;  // minimum memory traffic and useful FLOPs of one call
};

struct MachineLimits {
  double copy_gb_per_s = 0;      // read + write of a large buffer
  double gemm_gflop_per_s = 0;   // 2048^3 matmul in the benchmark dtype
};

MachineLimits measure_machine_limits(torch::Dtype dtype, torch::Device device);
std::vector<OpBenchRow> run_op_bench(const OpBenchOptions& options);

void print_op_table(std::ostream& out, const std::vector<OpBenchRow>& rows, const MachineLimits& limits);
void write_op_csv(std::ostream& out, const std::vector<OpBenchRow>& rows, const MachineLimits& limits);

}  // namespace convpt::bench
