#include "bench/model_bench.h"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>
#ifdef CONVPT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/runtime.h"
#include "models/model_info.h"
#include "models/seq2seq.h"
#include "training/precision.h"
#include "training/trainer.h"

extern char** environ;

namespace convpt::bench {
namespace fs = std::filesystem;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// ---- the child: one cell ----------------------------------------------------------------------------------------

// A field of /proc/self/status in MiB: "VmRSS" (resident now) or "VmHWM" (its peak since the process started).
double process_status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024;  // in kB
  throw std::runtime_error("/proc/self/status has no " + field + " field");
}

// Memory the cell has allocated at its peak so far: weights, gradients, optimizer state, activations. On the CPU the
// resident set above what the process held before the model existed (LibTorch's own code and buffers); on CUDA the
// caching allocator's peak of allocated bytes.
class PeakMemory {
 public:
  explicit PeakMemory(torch::Device device)
      : device_(device), baseline_mib_(device.is_cuda() ? 0 : process_status_mib("VmRSS")) {}

  double mib() const {
#ifdef CONVPT_WITH_CUDA
    if (device_.is_cuda()) {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device());
      return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak / kMiB;
    }
#endif
    return process_status_mib("VmHWM") - baseline_mib_;
  }

 private:
  torch::Device device_;
  double baseline_mib_;
};

// What a cell has measured so far, as "key values" lines, rewritten after each phase: the file from child to parent.
class CellReport {
 public:
  explicit CellReport(fs::path file) : file_(std::move(file)) {}
  void timing(const std::string& phase, const Timing& t) {
    add(phase + " " + std::to_string(t.median_ms) + " " + std::to_string(t.min_ms) + " " + std::to_string(t.max_ms));
  }
  void memory(const std::string& key, double mib) { add(key + " " + std::to_string(mib)); }
  void failure(const std::string& why) { add("failure " + why); }

 private:
  void add(const std::string& line) {
    text_ += line + "\n";
    write_file_atomically(file_, text_);
  }
  fs::path file_;
  std::string text_;
};

// Asks the kernel to pick this process first when memory runs out, so that a cell too big for the machine ends
// itself rather than other work on it. Best effort: raising one's own score needs no privilege.
void volunteer_for_oom_killer() { std::ofstream("/proc/self/oom_score_adj") << 1000; }

// RLIMIT_DATA covers the heap and every private writable mapping (Linux >= 4.7): allocations beyond the cap fail
// with an error the cell reports as out of memory, instead of the machine swapping or its OOM killer stepping in.
void cap_heap(double gigabytes) {
  const auto bytes = static_cast<rlim_t>(gigabytes * 1024 * kMiB);
  const rlimit limit{bytes, bytes};
  if (setrlimit(RLIMIT_DATA, &limit) != 0)
    throw std::runtime_error(std::string("bench.max_memory_gb: setrlimit failed: ") + std::strerror(errno));
}

// Greedy decoding of exactly `steps` tokens per example with caches (greedy_decode stops at EOS, which a model with
// random weights reaches after an unpredictable number of steps).
void decode_tokens(models::Seq2SeqModelImpl& model, const models::EncoderOutput& encoded, int64_t steps) {
  models::DecoderState state = model.start_decoding(encoded);
  torch::Tensor next = torch::full({encoded.hidden.size(0), 1}, models::kPadId,
                                   torch::TensorOptions().dtype(torch::kLong).device(encoded.hidden.device()));
  for (int64_t step = 0; step < steps; ++step) next = model.decode(next, encoded, &state).argmax(-1);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// CUDA's caching allocator throws OutOfMemoryError; LibTorch's CPU allocator a plain c10::Error with this text.
bool is_out_of_memory(const c10::Error& error) {
  return dynamic_cast<const c10::OutOfMemoryError*>(&error) != nullptr ||
         std::string(error.what_without_backtrace()).find("DefaultCPUAllocator: can't allocate memory") !=
             std::string::npos;
}

// ---- the parent: the grid ---------------------------------------------------------------------------------------

// Runs a program and waits for it; returns the wait status. `program` without a slash is looked up on PATH.
int spawn_and_wait(const std::string& program, const std::vector<std::string>& arguments,
                   const fs::path& directory) {
  std::vector<std::string> words = {program};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!directory.empty()) posix_spawn_file_actions_addchdir_np(&actions, directory.c_str());
  pid_t pid = 0;
  const int error = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot run " + program + ": " + std::strerror(error));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waiting for " + program + ": " + std::strerror(errno));
  return status;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

// Fills `cell` from the report a child wrote (absent when it was killed before finishing its first phase).
void read_report(const fs::path& file, CellResult& cell) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "failure") {
      std::getline(fields >> std::ws, cell.failure);
    } else if (key == "inference_memory_mib") {
      fields >> cell.inference_memory_mib;
    } else if (key == "peak_memory_mib") {
      fields >> cell.peak_memory_mib;
    } else {
      Timing t;
      fields >> t.median_ms >> t.min_ms >> t.max_ms;
      (key == "encoder" ? cell.encoder : key == "decode" ? cell.decode : cell.train) = t;
    }
  }
}

// The phase a cell had not finished when it stopped (phases run encoder, decode, train).
std::string unfinished_phase(const CellResult& cell) {
  return !cell.encoder ? "the model or encoder" : !cell.decode ? "decode" : "train";
}

void add_speedups(std::vector<CellResult>& cells) {
  const auto ratio = [](const std::optional<Timing>& reference, const std::optional<Timing>& own) {
    return reference && own ? std::optional<double>(reference->median_ms / own->median_ms) : std::nullopt;
  };
  for (CellResult& cell : cells) {
    const auto transformer = std::find_if(cells.begin(), cells.end(), [&](const CellResult& other) {
      return other.arch == "transformer" && other.length == cell.length;
    });
    if (transformer == cells.end()) continue;
    cell.train_speedup = ratio(transformer->train, cell.train);
    cell.encoder_speedup = ratio(transformer->encoder, cell.encoder);
    cell.decode_speedup = ratio(transformer->decode, cell.decode);
  }
}

// ---- outputs ----------------------------------------------------------------------------------------------------

using Value = std::optional<double>;

// One numeric output column; the CSV, the JSON and the plot data all come from this one list.
struct Column {
  std::string name;
  std::function<Value(const CellResult&)> value;
};

std::vector<Column> columns(const config::BenchConfig& bench) {
  const auto batch = static_cast<double>(bench.batch_size);
  const auto decode_steps = static_cast<double>(bench.decode_steps);
  std::vector<Column> all = {
      {"length", [](const CellResult& c) { return Value(c.length); }},
      {"batch_size", [=](const CellResult&) { return Value(batch); }},
      {"target_length", [](const CellResult& c) { return Value(c.target_length); }},
      {"decode_steps", [=](const CellResult&) { return Value(decode_steps); }},
  };
  using Amount = std::function<double(const CellResult&)>;  // what one timed run processes
  const auto add_phase = [&](const std::string& phase, std::optional<Timing> CellResult::*timing,
                             const std::vector<std::pair<std::string, Amount>>& rates) {
    for (const auto& [stat, field] : {std::pair{"median_ms", &Timing::median_ms}, std::pair{"min_ms", &Timing::min_ms},
                                      std::pair{"max_ms", &Timing::max_ms}})
      all.push_back({phase + "_" + stat, [timing, field](const CellResult& c) {
                       return c.*timing ? Value((*(c.*timing)).*field) : std::nullopt;
                     }});
    for (const auto& [rate, amount] : rates)
      all.push_back({phase + "_" + rate, [timing, amount](const CellResult& c) {
                       return c.*timing ? Value(amount(c) / ((c.*timing)->median_ms / 1e3)) : std::nullopt;
                     }});
  };
  add_phase("train", &CellResult::train,
            {{"tokens_per_s", [=](const CellResult& c) { return batch * c.length; }},
             {"examples_per_s", [=](const CellResult&) { return batch; }},
             {"gflop_per_s", [](const CellResult& c) { return c.train_flops / 1e9; }}});
  add_phase("encoder", &CellResult::encoder,
            {{"tokens_per_s", [=](const CellResult& c) { return batch * c.length; }},
             {"gflop_per_s", [](const CellResult& c) { return c.encoder_flops / 1e9; }}});
  add_phase("decode", &CellResult::decode, {{"tokens_per_s", [=](const CellResult&) { return batch * decode_steps; }}});
  const auto measured = [](double mib) { return std::isnan(mib) ? std::nullopt : Value(mib); };
  all.push_back({"inference_memory_mib", [=](const CellResult& c) { return measured(c.inference_memory_mib); }});
  all.push_back({"peak_memory_mib", [=](const CellResult& c) { return measured(c.peak_memory_mib); }});
  all.push_back({"train_flops", [](const CellResult& c) { return Value(c.train_flops); }});
  all.push_back({"encoder_flops", [](const CellResult& c) { return Value(c.encoder_flops); }});
  all.push_back({"train_speedup", [](const CellResult& c) { return c.train_speedup; }});
  all.push_back({"encoder_speedup", [](const CellResult& c) { return c.encoder_speedup; }});
  all.push_back({"decode_speedup", [](const CellResult& c) { return c.decode_speedup; }});
  return all;
}

const Column& column(const std::vector<Column>& all, const std::string& name) {
  return *std::find_if(all.begin(), all.end(), [&](const Column& c) { return c.name == name; });
}

std::string format_number(double value) {
  std::ostringstream out;
  out << std::setprecision(6) << value;
  return out.str();
}

std::string status(const CellResult& cell) { return cell.failure.empty() ? "ok" : cell.failure; }

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

std::string describe_model(const config::Config& config) {
  const config::ModelConfig& m = config.model;
  const config::BenchConfig& b = config.bench;
  std::ostringstream out;
  out << "d_model " << m.d_model << ", d_ff " << m.d_ff << ", " << m.encoder_layers << "+" << m.decoder_layers
      << " layers, vocab " << m.vocab_size << "; batch " << b.batch_size << ", target " << b.target_length
      << ", decode " << b.decode_steps << " tokens; " << config.pretrain.precision << " (pretrain.precision); device "
      << config.run.device << ", threads " << config.run.threads;
  return out.str();
}

std::string memory_definition(const config::Config& config) {
  return config.run.device == "cuda" ? "peak bytes allocated by LibTorch's CUDA caching allocator"
                                     : "peak resident memory above the process's own before the model was built";
}

// The architectures' colours in the plot, fixed so that figures from different runs read alike.
std::string arch_colour(const std::string& arch) {
  if (arch == "transformer") return "#000000";
  if (arch == "lightconv") return "#1f77b4";
  if (arch == "dynamicconv") return "#d62728";
  return "#2ca02c";
}

}  // namespace

config::ModelConfig cell_model_config(const config::Config& config, const std::string& arch, int64_t length) {
  config::ModelConfig model = config.model;
  model.arch = arch;
  model.max_positions = std::max({model.max_positions, length, config.bench.decode_steps});
  model.dilations = {1};
  if (arch == "dilatedconv") {
    if (!config.bench.dilatedconv_kernel_sizes.empty()) model.kernel_sizes = config.bench.dilatedconv_kernel_sizes;
    if (!config.bench.dilatedconv_dilations.empty()) model.dilations = config.bench.dilatedconv_dilations;
  }
  return model;
}

void run_cell(const config::Config& config, const std::string& arch, int64_t length, const fs::path& result_file) {
  volunteer_for_oom_killer();
  const config::BenchConfig& bench = config.bench;
  const bool capped = config.run.device == "cpu" && bench.max_memory_gb > 0;
  if (capped) cap_heap(bench.max_memory_gb);
  const std::string cap = capped ? " (cap bench.max_memory_gb: " + format_number(bench.max_memory_gb) + ")" : "";
  const torch::Device device = apply_runtime(config.run);
  const PeakMemory memory(device);
  CellReport report(result_file);
  const auto timed = [&](const std::function<void()>& work) {
    return time_wall(work, device, static_cast<int>(bench.warmup), static_cast<int>(bench.repeats));
  };
  std::string phase = "model";
  try {
    models::Seq2SeqModel model(cell_model_config(config, arch, length));
    model->to(device);
    // Random tokens above the special ids: no padding, so every position is real work.
    const auto ids = torch::TensorOptions().dtype(torch::kLong).device(device);
    const int64_t vocab = model->config().vocab_size;
    const torch::Tensor inputs = torch::randint(2, vocab, {bench.batch_size, length}, ids);
    const torch::Tensor targets = torch::randint(2, vocab, {bench.batch_size, std::min(length, bench.target_length)}, ids);

    // Every phase at pre-training's precision, like the training step's optimizer below.
    const std::string& precision = config.pretrain.precision;
    model->eval();
    {
      torch::NoGradGuard no_grad;
      const training::Autocast autocast(precision, device);
      phase = "encoder";
      report.timing(phase, timed([&] { model->encode(inputs); }));
      phase = "decode";
      const models::EncoderOutput encoded = model->encode(inputs);
      report.timing(phase, timed([&] { decode_tokens(*model, encoded, bench.decode_steps); }));
    }
    report.memory("inference_memory_mib", memory.mib());

    phase = "train";
    model->train();
    training::NamedParameters parameters;
    for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
    const auto optimizer = training::make_optimizer(config.pretrain, parameters);  // pre-training's optimizer
    // As the trainer: autocast around the forward only. One scope around the steps would also keep its cast
    // weights cached across optimizer steps, training on stale bf16 copies without paying for the casts.
    report.timing(phase, timed([&] {
      optimizer->zero_grad();
      const torch::Tensor loss = [&] {
        const training::Autocast autocast(precision, device);
        return model->loss(inputs, targets, config.pretrain.z_loss).loss;
      }();
      loss.backward();
      optimizer->step(config.pretrain.learning_rate);
    }));
    report.memory("peak_memory_mib", memory.mib());
  } catch (const c10::Error& e) {
    if (!is_out_of_memory(e)) throw;
    report.failure("out of memory in " + phase + cap + ": " + first_line(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    report.failure("out of memory in " + phase + cap + " (std::bad_alloc)");
  }
}

std::vector<CellResult> run_model_bench(const config::Config& config, const fs::path& config_file,
                                        const fs::path& convpt_binary, const fs::path& work_dir) {
  const config::BenchConfig& bench = config.bench;
  const size_t total = bench.archs.size() * bench.seq_lengths.size();
  std::vector<CellResult> cells;
  for (const std::string& arch : bench.archs) {
    for (const int64_t length : bench.seq_lengths) {
      CellResult cell{.arch = arch, .length = length, .target_length = std::min(length, bench.target_length)};
      const auto flops = models::forward_flops_per_token(cell_model_config(config, arch, length), length,
                                                         cell.target_length);
      cell.encoder_flops = flops.encoder * static_cast<double>(bench.batch_size * length);
      cell.train_flops =  // backward ~ 2x forward
          3 * (cell.encoder_flops + flops.decoder * static_cast<double>(bench.batch_size * cell.target_length));

      log::info("[", cells.size() + 1, "/", total, "] ", arch, " at length ", length);
      const fs::path report = work_dir / (arch + "-" + std::to_string(length) + ".txt");
      fs::remove(report);
      const int exit = spawn_and_wait(convpt_binary.string(),
                                      {"--log-level", "warn", "bench", "--config", config_file.string(),
                                       "--cell-arch", arch, "--cell-length", std::to_string(length),
                                       "--cell-result", report.string()},
                                      {});
      read_report(report, cell);
      if (WIFSIGNALED(exit) && WTERMSIG(exit) == SIGKILL) {
        cell.failure = "killed (SIGKILL) in " + unfinished_phase(cell) + ", most likely out of memory";
      } else if (!WIFEXITED(exit) || WEXITSTATUS(exit) != 0) {
        throw std::runtime_error("bench cell " + arch + " at length " + std::to_string(length) + " failed (" +
                                 describe_exit(exit) + "); its messages are above");
      }
      if (!cell.failure.empty()) log::warn(arch, " at length ", length, ": ", cell.failure);
      else log::info("  train ", format_number(cell.train->median_ms), " ms, encoder ",
                     format_number(cell.encoder->median_ms), " ms, decode ", format_number(cell.decode->median_ms),
                     " ms, peak ", format_number(cell.peak_memory_mib), " MiB");
      cells.push_back(std::move(cell));
    }
  }
  add_speedups(cells);
  return cells;
}

void print_model_table(std::ostream& out, const std::vector<CellResult>& cells, const config::Config& config) {
  const std::vector<Column> all = columns(config.bench);
  out << describe_model(config) << "\nmedian of " << config.bench.repeats << " runs after " << config.bench.warmup
      << " warm-up; spread: half the min-max range; memory: " << memory_definition(config) << "\n";
  const std::vector<std::pair<std::string, std::string>> shown = {
      {"train_tokens_per_s", "train tok/s"},       {"train_gflop_per_s", "GFLOP/s"},
      {"encoder_tokens_per_s", "encoder tok/s"},   {"decode_tokens_per_s", "decode tok/s"},
      {"peak_memory_mib", "peak MiB"},             {"train_speedup", "train x transformer"}};
  out << std::left << std::setw(12) << "arch" << std::right << std::setw(7) << "length" << std::setw(12)
      << "train ms" << std::setw(8) << "spread";
  for (const auto& [name, title] : shown) out << std::setw(std::max<int>(12, title.size() + 2)) << title;
  out << "\n";
  for (const CellResult& cell : cells) {
    out << std::left << std::setw(12) << cell.arch << std::right << std::setw(7) << cell.length;
    if (cell.train) {
      const Timing& t = *cell.train;
      out << std::fixed << std::setprecision(1) << std::setw(12) << t.median_ms << std::setw(7)
          << 50 * (t.max_ms - t.min_ms) / t.median_ms << "%";
    } else {
      out << std::setw(12) << "OOM" << std::setw(8) << "";
    }
    for (const auto& [name, title] : shown) {
      const Value value = column(all, name).value(cell);
      out << std::setw(std::max<int>(12, title.size() + 2)) << std::fixed
          << std::setprecision(name.ends_with("speedup") ? 2 : name.ends_with("gflop_per_s") ? 1 : 0);
      if (value) out << *value;
      else out << (cell.failure.empty() ? "-" : "OOM");
    }
    out << "\n" << std::defaultfloat;
  }
  for (const CellResult& cell : cells)
    if (!cell.failure.empty()) out << cell.arch << " at length " << cell.length << ": " << cell.failure << "\n";
}

std::string model_csv(const std::vector<CellResult>& cells, const config::Config& config) {
  const std::vector<Column> all = columns(config.bench);
  std::ostringstream out;
  out << "arch";
  for (const Column& c : all) out << "," << c.name;
  out << ",status\n";
  for (const CellResult& cell : cells) {
    out << cell.arch;
    for (const Column& c : all) {
      out << ",";
      if (const Value value = c.value(cell)) out << format_number(*value);
    }
    out << "," << csv_field(status(cell)) << "\n";
  }
  return out.str();
}

std::string model_json(const std::vector<CellResult>& cells, const config::Config& config) {
  const std::vector<Column> all = columns(config.bench);
  const config::ModelConfig& m = config.model;
  std::ostringstream out;
  out << "{\"device\": " << json::quote(config.run.device) << ", \"threads\": " << config.run.threads
      << ", \"precision\": " << json::quote(config.pretrain.precision) << ", \"model\": {\"d_model\": " << m.d_model
      << ", \"d_ff\": " << m.d_ff << ", \"num_heads\": " << m.num_heads
      << ", \"d_kv\": " << m.d_kv << ", \"encoder_layers\": " << m.encoder_layers
      << ", \"decoder_layers\": " << m.decoder_layers << ", \"vocab_size\": " << m.vocab_size
      << "}, \"warmup\": " << config.bench.warmup << ", \"repeats\": " << config.bench.repeats
      << ", \"memory\": " << json::quote(memory_definition(config)) << ",\n \"cells\": [";
  for (size_t i = 0; i < cells.size(); ++i) {
    out << (i ? ",\n  " : "\n  ") << "{\"arch\": " << json::quote(cells[i].arch);
    for (const Column& c : all) {
      const Value value = c.value(cells[i]);
      out << ", " << json::quote(c.name) << ": " << (value ? format_number(*value) : "null");
    }
    out << ", \"status\": " << json::quote(status(cells[i])) << "}";
  }
  out << "\n]}\n";
  return out.str();
}

std::string gnuplot_script(const std::vector<CellResult>& cells, const config::Config& config,
                           const std::string& image_file) {
  const std::vector<Column> all = columns(config.bench);
  const std::vector<std::string> plotted = {"length", "train_tokens_per_s", "encoder_tokens_per_s", "peak_memory_mib",
                                            "train_speedup"};
  std::ostringstream out;
  out << "# convpt bench: throughput, memory and speedup against input length, one line per architecture.\n"
      << "# Regenerate the image: gnuplot <this file>\n"
      << "set terminal pngcairo noenhanced size 1400,1000 font ',11'\nset output '" << image_file << "'\n";
  for (const std::string& arch : config.bench.archs) {
    out << "$" << arch << " << EOD\n#";
    for (const std::string& name : plotted) out << " " << name;
    out << "\n";
    for (const CellResult& cell : cells) {
      if (cell.arch != arch) continue;
      for (const std::string& name : plotted) {
        const Value value = column(all, name).value(cell);
        out << (name == "length" ? "" : " ") << (value ? format_number(*value) : "NaN");
      }
      out << "\n";
    }
    out << "EOD\n";
  }
  // One panel per quantity; architectures without a single measured value are left out, as gnuplot stops on a
  // plot with no valid point.
  const auto panel = [&](const std::string& title, const std::string& ylabel, const std::string& name, bool log_y,
                         bool conv_only) {
    std::vector<std::string> lines;
    std::vector<double> values;  // plotted, to widen a range of one value as the x range below
    for (const CellResult& c : cells)
      if (const Value v = column(all, name).value(c); v && !(conv_only && c.arch == "transformer")) values.push_back(*v);
    for (const std::string& arch : config.bench.archs) {
      const bool any = std::any_of(cells.begin(), cells.end(), [&](const CellResult& c) {
        return c.arch == arch && column(all, name).value(c).has_value();
      });
      if (any && !(conv_only && arch == "transformer"))
        lines.push_back("$" + arch + " using 1:" +
                        std::to_string(std::find(plotted.begin(), plotted.end(), name) - plotted.begin() + 1) +
                        " with linespoints lw 2 pt 7 lc rgb '" + arch_colour(arch) + "' title '" + arch + "'");
    }
    if (lines.empty()) return;
    out << (log_y ? "set logscale y\n" : "unset logscale y\n") << "set title '" << title << "'\nset ylabel '"
        << ylabel << "'\n";
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    if (*low == *high) out << "set yrange [" << *low * 0.5 << ":" << *low * 2 << "]\n";
    else out << "set autoscale y\n";
    out << "plot ";
    for (size_t i = 0; i < lines.size(); ++i) out << (i ? ", \\\n     " : "") << lines[i];
    if (conv_only) out << ", \\\n     1 with lines dt 2 lc rgb '#808080' notitle";
    out << "\n";
  };
  out << "set multiplot layout 2,2 title 'convpt bench: " << describe_model(config) << "'\n"
      << "set logscale x 2\nset grid\nset key top right\nset xlabel 'input length (tokens)'\n";
  // One length alone gives gnuplot an empty x range, which it widens with a warning per panel: widen it here (and
  // a panel's y range of one value in panel()).
  const auto [shortest, longest] = std::minmax_element(
      cells.begin(), cells.end(), [](const CellResult& a, const CellResult& b) { return a.length < b.length; });
  if (!cells.empty() && shortest->length == longest->length)
    out << "set xrange [" << shortest->length / 2.0 << ":" << shortest->length * 2 << "]\n";
  panel("training step (forward, backward, optimizer)", "input tokens/s", "train_tokens_per_s", true, false);
  panel("encoder forward", "input tokens/s", "encoder_tokens_per_s", true, false);
  panel("peak memory (whole cell: training dominates)", "MiB", "peak_memory_mib", true, false);
  panel("training speed relative to the transformer", "transformer time / own time", "train_speedup", false, true);
  out << "unset multiplot\n";
  return out.str();
}

void run_program(const std::string& program, const std::vector<std::string>& arguments, const fs::path& directory) {
  const int exit = spawn_and_wait(program, arguments, directory);
  if (!WIFEXITED(exit) || WEXITSTATUS(exit) != 0)
    throw std::runtime_error(program + " failed (" + describe_exit(exit) + ")");
}

}  // namespace convpt::bench
