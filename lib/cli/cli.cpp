#include "cli/cli.h"
#include "cli/validators.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>
#include <map>

#include "config/config.h"
#include "config/yaml_tree.h"
#include "core/build_info.h"
#include "core/log.h"

namespace convpt::cli {

std::vector<std::string> GlobalOptions::config_overrides() const {
  std::vector<std::string> all = overrides;
  if (threads >= 0) all.push_back("run.threads=" + std::to_string(threads));
  if (seed >= 0) all.push_back("run.seed=" + std::to_string(seed));
  if (!device.empty()) all.push_back("run.device=" + device);
  return all;
}

namespace {

// The first word that is neither a flag nor a flag's value, when it names no subcommand ("" otherwise).
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.rfind("-", 0) == 0) {
      const bool takes_value = word.find('=') == std::string::npos && word != "--help" && word != "-h" &&
                               word != "--version";
      i += takes_value ? 1 : 0;
      continue;
    }
    for (const CLI::App* sub : app.get_subcommands({}))
      if (sub->get_name() == word) return "";
    return word;
  }
  return "";
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"convpt: pre-trained convolutions vs pre-trained Transformers (Tay et al., ACL 2021), reproduced",
               "convpt"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.set_version_flag("--version", std::string("convpt ") + CONVPT_VERSION + " (commit " + git_commit() +
                                        ", libtorch " + CONVPT_TORCH_VERSION + ")");
  GlobalOptions global;
  app.add_option("--log-level", global.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--threads", global.threads, "CPU threads for LibTorch (0: one per core; default: run.threads)")
      ->check(integer_in(0, config::kMaxThreads));
  app.add_option("--seed", global.seed, "random seed (default: run.seed)")->check(integer_in(0));
  app.add_option("--device", global.device, "cpu|cuda (default: run.device)")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--set", global.overrides, "override a config value: --set model.d_model=512 (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);

  std::map<std::string, Action> actions;
  actions["env"] = add_env_command(app, global);
  actions["config"] = add_config_command(app, global);
  actions["info"] = add_info_command(app, global);
  actions["tokenize"] = add_tokenize_command(app, global);
  actions["pretrain"] = add_pretrain_command(app, global);
  actions["finetune"] = add_finetune_command(app, global);
  actions["eval"] = add_eval_command(app, global);
  actions["predict"] = add_predict_command(app, global);
  actions["bench"] = add_bench_command(app, global);
  actions["launch"] = add_launch_command(app, global);
  actions["reproduce"] = add_reproduce_command(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const std::string unknown = unknown_command(app, argc, argv); !unknown.empty()) {
      std::cerr << "convpt: unknown command '" << unknown << "' (see convpt --help)\n";
      return kUsageError;
    }
    return app.exit(e) == 0 ? kOk : kUsageError;
  }

  try {
    log::init(log::parse_level(global.log_level));
    for (const auto& [name, action] : actions)
      if (app.got_subcommand(name)) return action();
    return kUsageError;  // unreachable: require_subcommand(1)
  } catch (const config::ConfigError& e) {
    std::cerr << "convpt: config error: " << e.what() << "\n";
    return kUsageError;
  } catch (const UsageError& e) {
    std::cerr << "convpt: " << e.what() << " (see --help)\n";
    return kUsageError;
  } catch (const c10::Error& e) {  // LibTorch's what() carries a C++ backtrace; users need the message
    std::cerr << "convpt: error: " << e.what_without_backtrace() << "\n";
    return kRuntimeError;
  } catch (const std::exception& e) {
    std::cerr << "convpt: error: " << e.what() << "\n";
    return kRuntimeError;
  }
}

}  // namespace convpt::cli
