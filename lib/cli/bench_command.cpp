// `convpt bench`: the four architectures' speed and memory against sequence length (--config), or the operators
// alone (--ops).
#include <CLI/CLI.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bench/model_bench.h"
#include "bench/op_bench.h"
#include "cli/cli.h"
#include "cli/validators.h"
#include "core/files.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "core/runtime.h"
#include "training/precision.h"

#include <ATen/Parallel.h>

namespace convpt::cli {
namespace fs = std::filesystem;

namespace {

// Other work on the machine stalls LibTorch's OpenMP thread team: on the 2-core VM at load 6, training steps ran
// 15-30x slower with a spread under 1%, so the spread does not reveal it. Warn up front instead.
void warn_if_busy() {
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  if (load > 1.0)
    log::warn("load average ", load, " before the benchmark: other work is running, and the timings will be slower "
              "than this machine can do, often many times over");
}

template <class T> std::string yaml_list(const std::vector<T>& values) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  return out.str() + "]";
}

}  // namespace

Action add_bench_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string config, csv, dtype = "fp32", out;
    std::vector<std::string> archs;
    bool ops = false;
    bool no_plot = false;
    bench::OpBenchOptions op;
    std::string cell_arch, cell_result;  // hidden: one cell, run by the parent `convpt bench --config` in a child
    int64_t cell_length = 0;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("bench", "Speed and memory: models against sequence length (--config) or "
                                              "operators (--ops)");
  cmd->add_option("--config", flags->config, "experiment YAML: the model section gives the width, bench the grid "
                                             "(experiments/bench/*.yaml)");
  cmd->add_flag("--ops", flags->ops, "operator level: conv op (reference, fast) vs torch conv1d vs attention");
  cmd->add_option("--archs", flags->archs, "models: architectures (default: bench.archs)")->delimiter(',')
      ->check(CLI::IsMember({"transformer", "lightconv", "dynamicconv", "dilatedconv"}));
  cmd->add_option("--out", flags->out, "models: output directory (default: <run.output_dir>/bench-<UTC time>)");
  CLI::Option* batch = cmd->add_option("--batch", flags->op.batch, "batch size (models: default bench.batch_size)")
      ->capture_default_str()->check(integer_in(1));
  CLI::Option* lengths = cmd->add_option("--lengths", flags->op.lengths,
                                         "sequence lengths (models: default bench.seq_lengths)")
      ->capture_default_str()->delimiter(',')->check(integer_in(1));
  cmd->add_option("--channels", flags->op.channels, "ops: channels (d_model)")->capture_default_str()
      ->check(integer_in(1));
  cmd->add_option("--kernel-sizes", flags->op.kernel_sizes, "ops: kernel sizes")->capture_default_str()
      ->delimiter(',')->check(integer_in(1));
  cmd->add_option("--heads", flags->op.attention_heads, "ops: attention heads of the SDPA comparison")
      ->capture_default_str()->check(integer_in(1));
  CLI::Option* repeats = cmd->add_option("--repeats", flags->op.repeats,
                                         "timed runs per measurement (models: default bench.repeats)")
      ->capture_default_str()->check(integer_in(1));
  cmd->add_option("--dtype", flags->dtype, "ops: fp32|bf16")->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--csv", flags->csv, "ops: also write the rows as CSV to this file");
  cmd->add_flag("--no-plot", flags->no_plot, "models: write bench.gp but do not run gnuplot (a machine without it)");
  cmd->add_option("--cell-arch", flags->cell_arch)->group("");
  cmd->add_option("--cell-length", flags->cell_length)->group("");
  cmd->add_option("--cell-result", flags->cell_result)->group("");

  const auto run_models = [flags, &global, batch, lengths, repeats]() -> int {
    if (flags->config.empty()) {
      std::cerr << "convpt bench: pass --config FILE (model width and grid, e.g. experiments/bench/cpu.yaml) for "
                   "the models, or --ops for the operators\n";
      return kUsageError;
    }
    std::vector<std::string> overrides = global.config_overrides();
    if (!flags->archs.empty()) overrides.push_back("bench.archs=" + yaml_list(flags->archs));
    if (lengths->count() > 0) overrides.push_back("bench.seq_lengths=" + yaml_list(flags->op.lengths));
    if (batch->count() > 0) overrides.push_back("bench.batch_size=" + std::to_string(flags->op.batch));
    if (repeats->count() > 0) overrides.push_back("bench.repeats=" + std::to_string(flags->op.repeats));
    config::Config config = config::load_config(flags->config, overrides);
    if (!flags->cell_arch.empty()) {
      bench::run_cell(config, flags->cell_arch, flags->cell_length, flags->cell_result);
      return kOk;
    }
    apply_runtime(config.run);  // a missing GPU fails here, not in every cell
    training::settle_precision(config, "pretrain", flags->config);  // the cells read pretrain.precision
    config.run.threads = at::get_num_threads();  // the cells use, and the outputs report, the resolved count
    if (!flags->out.empty()) {
      fs::path out = fs::path(flags->out).lexically_normal();
      if (!out.has_filename()) out = out.parent_path();  // "dir/"
      config.run.output_dir = out.parent_path().empty() ? "." : out.parent_path().string();
      config.run.name = out.filename().string();
    } else if (config.run.name.empty()) {
      config.run.name = "bench-" + utc_timestamp();
    }
    warn_if_busy();
    const RunDir run = RunDir::create(config, "bench");
    fs::create_directories(run.file("cells"));
    log::info(config.bench.archs.size() * config.bench.seq_lengths.size(), " cells (architecture x length), each in "
              "its own process; ", config.run.device, ", ", config.run.threads, " threads");
    const auto cells = bench::run_model_bench(config, run.file("config.yaml"), fs::read_symlink("/proc/self/exe"),
                                              run.file("cells"));
    bench::print_model_table(std::cout, cells, config);
    write_file_atomically(run.file("bench.csv"), bench::model_csv(cells, config));
    write_file_atomically(run.file("bench.json"), bench::model_json(cells, config));
    write_file_atomically(run.file("bench.gp"), bench::gnuplot_script(cells, config, "bench.png"));
    if (flags->no_plot) {
      log::info("wrote bench.csv, bench.json and bench.gp (--no-plot: no bench.png) in ", run.path().string());
      return kOk;
    }
    try {
      bench::run_program("gnuplot", {"bench.gp"}, run.path());
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string(e.what()) + ". bench.csv and bench.json are written in " +
                               run.path().string() + "; for the plot install gnuplot (scripts/setup.sh) and run: cd " +
                               run.path().string() + " && gnuplot bench.gp");
    }
    log::info("wrote bench.csv, bench.json and bench.png (from bench.gp) in ", run.path().string());
    return kOk;
  };

  return [flags, &global, run_models]() -> int {
    if (!flags->ops) return run_models();
    if (flags->op.channels % flags->op.attention_heads != 0)
      throw UsageError("--channels " + std::to_string(flags->op.channels) + " is not divisible by --heads " +
                       std::to_string(flags->op.attention_heads));
    if (!flags->csv.empty()) check_writable(flags->csv);  // before the benchmark, not after it
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
