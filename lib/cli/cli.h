#pragma once
// The `convpt` command line: global flags, subcommands and exit codes.
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace convpt::cli {

// Exit codes shared by every subcommand.
// kInterrupted: SIGINT/SIGTERM stopped a run after saving a checkpoint (128 + SIGINT, as shells report it).
enum ExitCode : int { kOk = 0, kRuntimeError = 1, kUsageError = 2, kInterrupted = 130 };

// A command line that cannot work (flags that contradict each other or are missing): run() prints it and returns
// kUsageError, like a parse error.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Flags accepted before or after any subcommand. Unset values leave the config's `run` section alone.
struct GlobalOptions {
  std::string log_level = "info";
  int64_t threads = -1;
  int64_t seed = -1;
  std::string device;
  std::vector<std::string> overrides;  // --set key=value, in order

  // The overrides to apply to a config: --set values first, then the dedicated flags, which win.
  std::vector<std::string> config_overrides() const;
};

// A subcommand's body; returns an exit code. Exceptions are turned into messages and exit codes by run().
using Action = std::function<int()>;

// Each command file adds its subcommand and returns what to do when it is selected.
Action add_env_command(CLI::App& app, const GlobalOptions& global);
Action add_config_command(CLI::App& app, const GlobalOptions& global);
Action add_info_command(CLI::App& app, const GlobalOptions& global);
Action add_bench_command(CLI::App& app, const GlobalOptions& global);
Action add_pretrain_command(CLI::App& app, const GlobalOptions& global);
Action add_finetune_command(CLI::App& app, const GlobalOptions& global);
Action add_eval_command(CLI::App& app, const GlobalOptions& global);
Action add_predict_command(CLI::App& app, const GlobalOptions& global);
Action add_tokenize_command(CLI::App& app, const GlobalOptions& global);
Action add_launch_command(CLI::App& app, const GlobalOptions& global);
Action add_reproduce_command(CLI::App& app, const GlobalOptions& global);

int run(int argc, char** argv);

}  // namespace convpt::cli
