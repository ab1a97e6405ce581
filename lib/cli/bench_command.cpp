// `convpt bench`: operator-level benchmark (--ops). The sequence-length curve of whole models is issue #6.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "bench/op_bench.h"
#include "cli/cli.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "core/runtime.h"

#include <ATen/Parallel.h>

namespace convpt::cli {

Action add_bench_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string config, csv, dtype = "fp32";
    bool ops = false;
    bench::OpBenchOptions op;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("bench", "Speed and memory: operators (--ops) or models against sequence length");
  cmd->add_option("--config", flags->config, "experiment YAML (bench section)");
  cmd->add_flag("--ops", flags->ops, "operator level: conv op (reference, fast) vs torch conv1d vs attention");
  cmd->add_option("--batch", flags->op.batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--lengths", flags->op.lengths, "sequence lengths")->capture_default_str()->delimiter(',');
  cmd->add_option("--channels", flags->op.channels, "channels (d_model)")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kernel-sizes", flags->op.kernel_sizes, "kernel sizes")->capture_default_str()->delimiter(',');
  cmd->add_option("--heads", flags->op.attention_heads, "attention heads of the SDPA comparison")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--repeats", flags->op.repeats, "timed runs per measurement")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dtype", flags->dtype, "fp32|bf16")->capture_default_str()->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--csv", flags->csv, "also write the rows as CSV to this file");
  return [flags, &global] {
    if (!flags->ops) {
      std::cerr << "convpt bench: the model sequence-length benchmark is not implemented yet (issue #6); "
                   "use --ops for the operator benchmark\n";
      return kNotImplemented;
    }
    for (const int64_t value : flags->op.lengths)
      if (value < 1) throw std::invalid_argument("--lengths: values must be >= 1");
    for (const int64_t value : flags->op.kernel_sizes)
      if (value < 1) throw std::invalid_argument("--kernel-sizes: values must be >= 1");
    if (flags->op.channels % flags->op.attention_heads != 0)
      throw std::invalid_argument("--channels must be divisible by --heads");
    config::RunConfig run;
    if (global.threads >= 0) run.threads = global.threads;
    if (!global.device.empty()) run.device = global.device;
    flags->op.device = apply_runtime(run);
    flags->op.dtype = flags->dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    log::info("measuring machine limits and ", flags->op.lengths.size() * (3 * flags->op.kernel_sizes.size() + 1),
              " op configurations (", at::get_num_threads(), " threads)");
    const auto limits = bench::measure_machine_limits(flags->op.dtype, flags->op.device);
    const auto rows = bench::run_op_bench(flags->op);
    bench::print_op_table(std::cout, rows, limits);
    if (!flags->csv.empty()) {
      std::ostringstream csv;
      bench::write_op_csv(csv, rows, limits);
      write_file_atomically(flags->csv, csv.str());
    }
    return kOk;
  };
}

}  // namespace convpt::cli
