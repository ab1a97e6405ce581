// `convpt config FILE`: load, override and validate an experiment file; print or save the resolved config.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.h"
#include "config/config.h"
#include "core/files.h"

namespace convpt::cli {

Action add_config_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string file, out;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("config", "Validate an experiment YAML and print its fully resolved form");
  cmd->add_option("file", flags->file, "experiment YAML")->required();
  cmd->add_option("--out", flags->out, "write the resolved config to this file instead of stdout");
  return [flags, &global] {
    const config::Config config = config::load_config(flags->file, global.config_overrides());
    if (flags->out.empty()) {
      std::cout << config::to_yaml(config);
    } else {
      write_file_atomically(flags->out, config::to_yaml(config));
    }
    return kOk;
  };
}

}  // namespace convpt::cli
