#pragma once
// Model-level benchmark (`convpt bench --config`): the four architectures at equal width against input length.
// Each (architecture, length) cell times a training step (forward + backward + optimizer), an encoder forward and
// greedy decoding with caches, and measures the cell's peak memory. Every cell runs in its own child process
// (`convpt bench --cell-*`), so peak memory is the cell's own and an out-of-memory kill loses one cell, not the run.
#include <cmath>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "config/config.h"

namespace convpt::bench {

struct CellResult {
  std::string arch;
  int64_t length = 0;         // input tokens per example
  int64_t target_length = 0;  // decoder tokens per example of the training step
  double train_flops = 0, encoder_flops = 0;  // analytic FLOPs of one training step / one encoder forward
  // Absent when the cell ran out of memory before measuring it (the phases run in this order).
  std::optional<Timing> encoder{}, decode{}, train{};
  double inference_memory_mib = NAN;  // peak while encoding and decoding, weights included
  double peak_memory_mib = NAN;       // peak of the whole cell (the training step dominates)
  std::string failure{};              // empty, or why the cell stopped early ("out of memory in train: ...")
  // The transformer's median time at the same length over this architecture's (> 1: faster than the transformer).
  std::optional<double> train_speedup{}, encoder_speedup{}, decode_speedup{};
};

// The model of one cell: the config's model section at `arch`, with positions for `length` tokens. Width, depth and
// vocabulary stay equal across architectures; dilatedconv takes bench.dilatedconv_* when set.
config::ModelConfig cell_model_config(const config::Config& config, const std::string& arch, int64_t length);

// The child side: measures one cell in this process, rewriting `result_file` after each phase, so that a cell
// killed for memory still reports what it measured. Catchable out-of-memory errors end the cell normally.
void run_cell(const config::Config& config, const std::string& arch, int64_t length,
              const std::filesystem::path& result_file);

// The parent side: every cell of config.bench, each run by `convpt_binary` as a child reading `config_file` (the
// resolved `config`) and writing its results under `work_dir`. Throws when a cell fails other than for memory.
std::vector<CellResult> run_model_bench(const config::Config& config, const std::filesystem::path& config_file,
                                        const std::filesystem::path& convpt_binary,
                                        const std::filesystem::path& work_dir);

// Outputs: a terminal table, CSV (one row per cell), JSON (settings and the same rows), and a gnuplot script with
// the data inline (throughput, memory and speedup against length, one line per architecture).
void print_model_table(std::ostream& out, const std::vector<CellResult>& cells, const config::Config& config);
std::string model_csv(const std::vector<CellResult>& cells, const config::Config& config);
std::string model_json(const std::vector<CellResult>& cells, const config::Config& config);
std::string gnuplot_script(const std::vector<CellResult>& cells, const config::Config& config,
                           const std::string& image_file);

// Runs `program` (found on PATH) with `arguments` in `directory` and waits; throws std::runtime_error when it cannot
// start (naming the program) or exits non-zero.
void run_program(const std::string& program, const std::vector<std::string>& arguments,
                 const std::filesystem::path& directory);

}  // namespace convpt::bench
