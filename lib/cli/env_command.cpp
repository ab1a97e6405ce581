// `convpt env`: what this build is and what the machine gives it (threads, allocator, BLAS, CUDA devices).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.h"
#include "config/config.h"
#include "core/runtime.h"
#include "training/precision.h"

namespace convpt::cli {

Action add_env_command(CLI::App& app, const GlobalOptions& global) {
  app.add_subcommand("env", "Print build, library and device information");
  return [&global] {
    config::RunConfig run;  // defaults, adjusted by the global flags
    if (global.threads >= 0) run.threads = global.threads;
    if (!global.device.empty()) run.device = global.device;
    apply_runtime(run);
    std::cout << describe_runtime() << "bf16 matrix multiplies on the CPU: "
              << training::describe_bf16_support(c10::DeviceType::CPU) << "\n";
    return kOk;
  };
}

}  // namespace convpt::cli
