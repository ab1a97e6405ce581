// `convpt reproduce GRID.yaml`: the paper's Table 2 as one command. Each step is an ordinary convpt command run as a
// child process (the same command a user could type; its config is saved beside the runs), so a step that fails or
// is interrupted leaves a normal run directory that the next `reproduce` resumes.
#include <CLI/CLI.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "cli/cli.h"
#include "config/config.h"
#include "core/build_info.h"
#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "core/text.h"
#include "data/shards.h"
#include "data/tasks.h"
#include "experiments/grid.h"
#include "tokenizer/tokenizer.h"
#include "training/checkpoint.h"
#include "training/precision.h"

namespace convpt::cli {
namespace fs = std::filesystem;
using experiments::Cell;

namespace {

struct Flags {
  std::string grid;
  std::vector<std::string> rows, datasets;
  std::vector<int64_t> seeds;
  bool force = false, force_pretraining = false, dry_run = false;
};

std::string shell_quote(const std::string& word) {
  if (word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,[]") ==
      std::string::npos)
    return word;
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line(const std::vector<std::string>& args) {
  std::string out = "convpt";
  for (const auto& a : args) out += " " + shell_quote(a);
  return out;
}

volatile sig_atomic_t g_child = 0;  // the step running now, to pass SIGINT/SIGTERM on to
extern "C" void pass_signal_to_child(int signal) {
  if (g_child > 0) ::kill(static_cast<pid_t>(g_child), signal);
}

// Runs this binary with `args`; returns its exit status (128 + signal when killed).
int run_child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string self = "convpt";
  argv.push_back(self.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::execv("/proc/self/exe", argv.data());
    std::perror("convpt reproduce: exec");
    std::_Exit(127);
  }
  // A signal to us (`kill PID`, a container's stop) goes on to the step, which checkpoints and exits 130; we wait for
  // that. Ctrl-C reaches the step from the terminal as well, and stopping twice is stopping once.
  g_child = pid;
  struct sigaction forward {}, previous_int{}, previous_term{};
  forward.sa_handler = pass_signal_to_child;
  forward.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &forward, &previous_int);
  ::sigaction(SIGTERM, &forward, &previous_term);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &previous_int, nullptr);
  ::sigaction(SIGTERM, &previous_term, nullptr);
  g_child = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

double elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A string that a finished run's final checkpoint records in its meta.json; "" when it records none.
std::string final_checkpoint_record(const fs::path& run_dir, std::string_view key) {
  const auto checkpoint = training::latest_checkpoint(run_dir);
  if (!checkpoint) throw std::runtime_error(run_dir.string() + " is finished but has no checkpoint");
  const fs::path meta = *checkpoint / "meta.json";
  try {
    const json::Value* value = json::parse_file(meta).find(key);
    return value ? value->as_string() : "";
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(meta.string() + ": " + e.what());
  }
}

// The binary that trained a finished run to the end, which may differ from the one rendering the table (cells are
// cached across sittings and rebuilds).
std::string trained_by_commit(const fs::path& run_dir) {
  const std::string commit = final_checkpoint_record(run_dir, "convpt_commit");
  if (commit.empty()) throw std::runtime_error(run_dir.string() + ": its final checkpoint records no convpt_commit");
  return commit;
}

class GridRunner {
 public:
  GridRunner(const Flags& flags, const GlobalOptions& global, std::string command)
      : command_(std::move(command)), flags_(flags), global_(global),
        layout_(flags.grid, config::load_grid_config(flags.grid).grid) {}

  int run() {
    const config::GridSpec& grid = layout_.grid();
    const std::vector<Cell> cells = experiments::grid_cells(grid, flags_.rows, flags_.datasets, flags_.seeds);
    layout_.refuse_grid_settings(global_.config_overrides());
    refuse_unknown_datasets();
    if (flags_.force_pretraining && !grid.pretrain_from.empty())
      throw UsageError("--force-pretraining: grid " + grid.name + " fine-tunes grid.pretrain_from's pre-trainings (" +
                       grid.pretrain_from + "); redo them with that grid's file");
    // Every run's precision is settled for this machine before any runs: a refused one stops the grid now, not
    // after hours of the runs before it.
    for (const Cell& cell : cells) {
      if (cell.row == "pretrained") pretrain_config(cell.arch, training::AutoNote::quiet);
      finetune_config(cell, training::AutoNote::quiet);
    }
    log::info("grid ", grid.name, ": ", cells.size(), " fine-tuning cells; runs in ", layout_.runs_dir().string(),
              ", tables in ", layout_.results_dir().string());
    if (int code = prepare_data(); code != kOk) return code;
    // Pre-trainings another process holds are passed over here, so that this process takes the next free one; the
    // cells that need such a pre-training wait for it only after every other cell this process can run (the scratch
    // cells, those of finished pre-trainings).
    std::set<std::string> pretrainings_left;
    std::vector<std::string> left_to_others;  // cells another process was running
    const auto pretrain = [&](const std::string& arch, WhenBusy when_busy) {
      const config::Config config = pretrain_config(arch);
      const StepOutcome outcome =
          step(layout_.pretrain_run(arch), config, "pretrain", {}, when_busy, flags_.force_pretraining);
      if (outcome.left) pretrainings_left.insert(arch);
      else pretrainings_left.erase(arch);
      return outcome.code;
    };
    for (const std::string& arch : grid.archs) {
      const bool needed = std::any_of(cells.begin(), cells.end(),
                                      [&](const Cell& c) { return c.arch == arch && c.row == "pretrained"; });
      if (!needed) continue;
      if (int code = pretrain(arch, WhenBusy::leave); code != kOk) return code;
    }
    const auto fine_tune = [&](const Cell& cell) {
      const config::Config config = finetune_config(cell);
      if (config.data.tokenizer != tokenizer_.data.tokenizer)
        throw std::invalid_argument("grid " + flags_.grid + ": cell " + cell.run_name() + " uses tokenizer " +
                                    config.data.tokenizer + " but grid.tokenizer's config makes " +
                                    tokenizer_.data.tokenizer);
      const StepOutcome outcome = step(layout_.cell_run(cell), config, "finetune", {"--task", cell.dataset},
                                       WhenBusy::leave, flags_.force);
      if (outcome.left) left_to_others.push_back(cell.run_name());
      if (!flags_.dry_run) write_tables();  // also after a failure: a cell redone and failed leaves the table
      return outcome.code;
    };
    std::vector<Cell> waiting;  // for a pre-training another process holds
    for (const Cell& cell : cells) {
      if (cell.row == "pretrained" && pretrainings_left.count(cell.arch)) {
        waiting.push_back(cell);
        continue;
      }
      if (int code = fine_tune(cell); code != kOk) return code;
    }
    for (const Cell& cell : waiting) {
      if (pretrainings_left.count(cell.arch)) {
        if (int code = pretrain(cell.arch, WhenBusy::wait); code != kOk) return code;
      }
      if (int code = fine_tune(cell); code != kOk) return code;
    }
    if (flags_.dry_run) return kOk;
    write_tables();
    if (!left_to_others.empty()) {
      log::warn(left_to_others.size(), " cell(s) were left to other reproduce processes: ", join(left_to_others),
                "; if the table lacks them, run this command again once those finish");
    }
    std::ifstream table(layout_.results_dir() / "table2.md");
    std::cout << "\n" << table.rdbuf();
    return kOk;
  }

 private:
  // Grid datasets are the built-in tasks (the paper's table names them); another name is refused before anything runs.
  void refuse_unknown_datasets() const {
    const std::vector<std::string> known = data::builtin_task_names();
    for (const std::string& dataset : layout_.grid().datasets)
      if (std::find(known.begin(), known.end(), dataset) == known.end())
        throw config::ConfigError(config::YamlTree::from_file(flags_.grid).origin_of("grid.datasets"),
                                  "grid.datasets", "unknown task '" + dataset + "' (built-in tasks: " + join(known) + ")");
  }

  // The fingerprint of the weights a fine-tuning starts from (a finished pre-training run); "" for none, or while
  // the pre-training is unfinished (a dry run). Hashed once per run and process.
  std::string init_weights(const config::Config& config, const std::string& command) {
    const std::string& init = config.finetune.init;
    if (command != "finetune" || init.empty() || !fs::exists(fs::path(init) / "results.json")) return "";
    auto [known, added] = init_weights_.try_emplace(init);
    if (added) known->second = training::weights_fingerprint(init);
    return known->second;
  }

  // The vocabulary and shards, made once (every cell of the grid, and other grids using them, share them); shards
  // are made again when their encoding is incomplete or was made with another vocabulary. One reproduce process at
  // a time, under a lock beside the shards: the others wait, then find them made.
  int prepare_data() {
    const std::string tokenizer_file = layout_.tokenizer_file().string();
    tokenizer_ = config::load_config(tokenizer_file, global_.config_overrides());
    std::optional<RunLock> lock;
    if (!flags_.dry_run) {
      fs::create_directories(fs::path(tokenizer_.data.shards).parent_path());
      lock.emplace(tokenizer_.data.shards + ".lock", RunLock::Mode::wait);
    }
    // The children get this process's overrides too, so that they make what tokenizer_ describes.
    std::vector<std::string> overrides;
    for (const auto& assignment : global_.config_overrides()) overrides.insert(overrides.end(), {"--set", assignment});
    const auto tokenize = [&](std::vector<std::string> args) {
      args.insert(args.begin(), overrides.begin(), overrides.end());
      return execute(args);
    };
    if (!fs::exists(tokenizer_.data.tokenizer)) {
      if (int code = tokenize({"tokenize", "train", "--config", tokenizer_file}); code != kOk) return code;
    }
    if (fs::exists(tokenizer_.data.tokenizer))  // absent only in a dry run
      tokenizer_fingerprint_ =
          tokenizer::Tokenizer(tokenizer_.data.tokenizer, int32_t(tokenizer_.data.sentinels)).fingerprint();
    if (!shards_current()) {
      const std::vector<std::string> datasets = datasets_to_encode();
      std::string tasks = "data.tasks=[";
      for (size_t i = 0; i < datasets.size(); ++i) tasks += (i ? "," : "") + datasets[i];
      if (int code = tokenize({"--set", tasks + "]", "tokenize", "encode", "--config", tokenizer_file}); code != kOk)
        return code;
    }
    return kOk;
  }

  // The grid's datasets, and the built-in tasks the shards hold now: grids that share shards (one tokenizer file)
  // must not undo each other's encodings.
  std::vector<std::string> datasets_to_encode() const {
    std::vector<std::string> datasets = layout_.grid().datasets;
    std::optional<data::ShardsProvenance> encoded;
    try {
      encoded = data::read_shards_provenance(tokenizer_.data.shards);
    } catch (const std::exception&) {  // corrupt: shards_current() said so
    }
    const fs::path root = fs::canonical(data::resolve_data_root("", tokenizer_.data.root));
    if (!encoded || encoded->data_root != root.string()) return datasets;
    const std::vector<std::string> builtin = data::builtin_task_names();
    for (const auto& [shard, fingerprint] : encoded->fingerprints) {
      const std::string task = task_of_shard(shard);
      if (std::find(builtin.begin(), builtin.end(), task) == builtin.end() ||
          std::find(datasets.begin(), datasets.end(), task) != datasets.end())
        continue;
      try {  // a listed task must have all its splits: one whose data is gone is left out
        const data::Task found = data::find_task(task, root);
        for (const auto& split : found.splits) found.open(split);
        datasets.push_back(task);
      } catch (const data::MissingData& e) {
        log::info(tokenizer_.data.shards, ": not encoding ", task, " again (", e.what(), ")");
      }
    }
    return datasets;
  }

  // "tasks/<task>/<split>" -> "<task>"; "" for another shard.
  static std::string task_of_shard(const std::string& shard) {
    const size_t slash = shard.rfind('/');
    if (!shard.starts_with("tasks/") || slash == std::string::npos || slash <= 6) return "";
    return shard.substr(6, slash - 6);
  }

  // Whether the shards' record says they are complete, made with the current vocabulary from the data root and task
  // data there now (a task file edited or replaced since makes them stale); a corrupt record says they are not.
  bool shards_current() const {
    try {
      const auto encoded = data::read_shards_provenance(tokenizer_.data.shards);
      if (!encoded || tokenizer_fingerprint_.empty() || encoded->tokenizer_fingerprint != tokenizer_fingerprint_)
        return false;
      const fs::path root = fs::canonical(data::resolve_data_root("", tokenizer_.data.root));
      if (encoded->data_root != root.string()) {
        log::info(tokenizer_.data.shards, " were encoded from ", encoded->data_root, ", not ", root.string(),
                  ": encoding again");
        return false;
      }
      const auto& datasets = layout_.grid().datasets;
      for (const std::string& dataset : datasets)
        if (std::none_of(encoded->fingerprints.begin(), encoded->fingerprints.end(),
                         [&](const auto& recorded) { return task_of_shard(recorded.first) == dataset; })) {
          log::info(tokenizer_.data.shards, " hold no ", dataset, " (the last encoding did not write it): encoding again");
          return false;
        }
      for (const auto& [shard, fingerprint] : encoded->fingerprints) {
        const std::string task = task_of_shard(shard), split = shard.substr(shard.rfind('/') + 1);
        if (std::find(datasets.begin(), datasets.end(), task) == datasets.end()) continue;
        if (data::find_task(task, root).fingerprint(split) != fingerprint) {
          log::info(tokenizer_.data.shards, "/", shard, ": the task's data now has another fingerprint than the one ",
                    "recorded (the data changed, or an older convpt recorded it); encoding again");
          return false;
        }
      }
      return true;
    } catch (const std::exception& e) {
      log::warn(e.what(), ": encoding again");
      return false;
    }
  }

  int execute(const std::vector<std::string>& args) {
    std::cout << "$ " << command_line(args) << "\n";
    if (flags_.dry_run) return kOk;
    const int code = run_child(args);
    if (code != kOk)
      log::error("step failed with exit code ", code, (code == kInterrupted ? " (interrupted)" : ""),
                 "; run the same reproduce command again to resume");
    return code;
  }

  // A run's config as the grid makes it, its precision settled for this machine (training/precision.h), so that
  // the config a run directory records and the one that decides whether its results belong here agree.
  config::Config pretrain_config(const std::string& arch,
                                 training::AutoNote note = training::AutoNote::log) const {
    config::Config config = layout_.pretrain_config(arch, global_.config_overrides());
    training::settle_precision(config, "pretrain", "grid " + flags_.grid + "'s pre-training of " + arch, note);
    return config;
  }
  config::Config finetune_config(const Cell& cell, training::AutoNote note = training::AutoNote::log) const {
    config::Config config = layout_.finetune_config(cell, global_.config_overrides());
    training::settle_precision(config, "finetune", "grid " + flags_.grid + "'s cell " + cell.run_name(), note);
    return config;
  }

  enum class WhenBusy { leave, wait };  // what to do when another process holds the run's lock
  struct StepOutcome {
    int code = kOk;
    bool left = false;  // another process holds the run: it was left to that one
  };

  // One pre-training or fine-tuning run: skipped when finished (unless `redo`), resumed when interrupted. A lock
  // per run (<runs>/locks/<run>.lock) lets reproduce processes share a grid, one per core: a run another process
  // holds is left to it or waited for, as `when_busy` says. A dry run changes nothing, so it takes no lock.
  StepOutcome step(const fs::path& run_dir, const config::Config& config, const std::string& command,
                   const std::vector<std::string>& extra, WhenBusy when_busy, bool redo) {
    const std::string redo_flag = command == "pretrain" ? "--force-pretraining" : "--force";
    std::optional<RunLock> lock;
    bool busy = false;
    if (!flags_.dry_run) {
      // Beside the run, not in this grid's runs: a pre-training may be another grid's (grid.pretrain_from).
      const fs::path lock_file = run_dir.parent_path() / "locks" / (run_dir.filename().string() + ".lock");
      fs::create_directories(lock_file.parent_path());
      lock.emplace(lock_file, RunLock::Mode::try_once);
      busy = !lock->held();
      if (busy && when_busy == WhenBusy::leave) {
        log::info(run_dir.string(), ": another reproduce process is running it; left to that one");
        return {kOk, true};
      }
      if (busy) {
        log::info(run_dir.string(), ": another reproduce process is running it; waiting for it to finish");
        lock.emplace(lock_file, RunLock::Mode::wait);
      }
    }
    redo = redo && !busy;  // a run another process has just finished is not redone
    if (redo && !flags_.dry_run && fs::exists(run_dir)) fs::remove_all(run_dir);
    if (!redo && fs::exists(run_dir / "results.json")) {
      const std::string hint = "(" + redo_flag + " redoes the runs";
      // A run on the ids of an earlier vocabulary would mix vocabularies in one table.
      const std::string trained_on = final_checkpoint_record(run_dir, "tokenizer_fingerprint");
      if (!trained_on.empty() && !tokenizer_fingerprint_.empty() && trained_on != tokenizer_fingerprint_)
        throw std::runtime_error(run_dir.string() + " was trained on the ids of tokenizer " + trained_on + ", but " +
                                 tokenizer_.data.tokenizer + " is now " + tokenizer_fingerprint_ +
                                 ": its results would not belong in this table " + hint + ")");
      // Nor would a run of another seed (grid.seed changed under the same grid.name), settings or initial weights.
      if (const std::string differs = how_run_differs(run_dir, config, command, init_weights(config, command),
                                                      RunReuse::finished_results);
          !differs.empty())
        throw std::runtime_error(run_dir.string() + " " + differs + ": its results would not belong in this table " +
                                 hint + "; a grid of another seed wants a grid.name of its own)");
      log::info(run_dir.string(), ": finished earlier, skipped (", redo_flag, " redoes it)");
      return {};
    }
    const fs::path config_file = run_dir.parent_path() / "configs" / (run_dir.filename().string() + ".yaml");
    std::vector<std::string> args = {command, "--config", config_file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!redo && fs::exists(run_dir)) args.push_back("--resume");
    fs::create_directories(config_file.parent_path());  // also for --dry-run: the printed commands need them
    write_file_atomically(config_file, config::to_yaml(config));
    const double before = flags_.dry_run ? 0 : experiments::recorded_wall_seconds(run_dir);
    const auto start = std::chrono::steady_clock::now();
    const int code = execute(args);
    if (!flags_.dry_run && fs::exists(run_dir)) {
      std::ostringstream record;
      record << "{\"wall_seconds\": " << json::number(before + elapsed_since(start))
             << ", \"command\": " << json::quote(command_line(args)) << ", \"exit_code\": " << code << "}\n";
      write_file_atomically(run_dir / "reproduce.json", record.str());
    }
    return {code};
  }

  // results/<grid>/: table2.md, table2.csv and a copy of every finished run's results.json under cells/.
  void write_tables() const {
    const config::GridSpec& grid = layout_.grid();
    const fs::path results = layout_.results_dir();
    experiments::GridReport report{grid, layout_.pretrain_grid(), experiments::grid_cells(grid), {}, {}, {},
                                   command_, git_commit()};
    fs::create_directories(results / "cells");
    auto keep = [&](const fs::path& run_dir) {
      ++report.runs_by_commit[trained_by_commit(run_dir)];
      fs::copy_file(run_dir / "results.json", results / "cells" / (run_dir.filename().string() + ".json"),
                    fs::copy_options::overwrite_existing);
    };
    for (const Cell& cell : report.cells) {
      const fs::path run_dir = layout_.cell_run(cell);
      if (!fs::exists(run_dir / "results.json")) {
        // A run redone (and unfinished, or failed) drops its old copy; one not on this machine keeps its record.
        if (fs::exists(run_dir)) fs::remove(results / "cells" / (cell.run_name() + ".json"));
        continue;
      }
      report.results[cell.run_name()] = experiments::read_cell_result(run_dir);
      keep(run_dir);
    }
    for (const std::string& arch : grid.archs) {
      const fs::path run_dir = layout_.pretrain_run(arch);
      if (!fs::exists(run_dir / "results.json")) continue;
      report.pretrain_seconds[arch] = experiments::recorded_wall_seconds(run_dir);
      keep(run_dir);
    }
    write_file_atomically(results / "table2.md", experiments::table2_markdown(report));
    write_file_atomically(results / "table2.csv", experiments::table2_csv(report));
  }

  std::string command_;  // as the user typed it, for the provenance of the tables
  const Flags& flags_;
  const GlobalOptions& global_;
  experiments::GridLayout layout_;
  config::Config tokenizer_;
  std::string tokenizer_fingerprint_;  // of the grid's vocabulary; empty in a dry run before it exists
  std::map<std::string, std::string> init_weights_;  // init path -> weights_fingerprint
};

}  // namespace

Action add_reproduce_command(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "reproduce", "Run a Table 2 grid (pre-training, fine-tuning, test) and write our table beside the paper's");
  cmd->add_option("grid", flags->grid, "grid YAML, e.g. experiments/cpu/table2.yaml")->required();
  cmd->add_option("--rows", flags->rows, "only these rows: scratch, pretrained, an architecture, or <arch>-<row>")
      ->delimiter(',');
  cmd->add_option("--datasets", flags->datasets, "only these datasets (comma-separated task names)")->delimiter(',');
  cmd->add_option("--seeds", flags->seeds, "only these fine-tuning seeds (of grid.finetune_seeds)")->delimiter(',');
  cmd->add_flag("--force", flags->force, "redo the selected fine-tuning cells even when finished");
  cmd->add_flag("--force-pretraining", flags->force_pretraining,
                "redo the pre-trainings of the selected pretrained rows even when finished (cells fine-tuned from "
                "the old ones are then refused until redone)");
  cmd->add_flag("--dry-run", flags->dry_run, "write the runs' configs and print the commands without running them");
  return [flags, &global]() -> int {
    // As typed, --set included (it changes the runs), for the provenance of the tables.
    std::string command = "convpt";
    for (const std::string& assignment : global.config_overrides()) command += " --set " + shell_quote(assignment);
    command += " reproduce " + flags->grid;
    if (!flags->rows.empty()) command += " --rows " + join(flags->rows, ",");
    if (!flags->datasets.empty()) command += " --datasets " + join(flags->datasets, ",");
    if (!flags->seeds.empty()) {
      std::vector<std::string> seeds;
      for (const int64_t seed : flags->seeds) seeds.push_back(std::to_string(seed));
      command += " --seeds " + join(seeds, ",");
    }
    return GridRunner(*flags, global, command).run();
  };
}

}  // namespace convpt::cli
