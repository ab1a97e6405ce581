// `convpt env`: what this build is and what the machine gives it (threads, allocator, BLAS, CUDA devices).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.h"
#include "config/config.h"
#include "core/runtime.h"

namespace convpt::cli {

Action add_env_command(CLI::App& app, const GlobalOptions& global) {
  app.add_subcommand("env", "Print build, library and device information");
  return [&global] {
    config::RunConfig run;  // defaults, adjusted by the global flags
    if (global.threads >= 0) run.threads = global.threads;
    if (!global.device.empty()) run.device = global.device;
    apply_runtime(run);
    std::cout << describe_runtime();
    return kOk;
  };
}

}  // namespace convpt::cli
