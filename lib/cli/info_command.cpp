// `convpt info --config FILE`: parameter count per module and analytic FLOPs per token.
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>

#include "cli/cli.h"
#include "cli/validators.h"
#include "models/model_info.h"

namespace convpt::cli {

Action add_info_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string config;
    int64_t input_length = 0, target_length = 0;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("info", "Parameters per module and FLOPs per token of a model config");
  cmd->add_option("--config", flags->config, "experiment YAML")->required();
  cmd->add_option("--length", flags->input_length, "input length for FLOPs (default: pretrain.input_length)")
      ->check(integer_in(1));
  cmd->add_option("--target-length", flags->target_length,
                  "target length for FLOPs (default: pretrain.target_length)")
      ->check(integer_in(1));
  cmd->add_flag("--json", flags->json, "print JSON");
  return [flags, &global] {
    const config::Config config = config::load_config(flags->config, global.config_overrides());
    const int64_t input_length = flags->input_length > 0 ? flags->input_length : config.pretrain.input_length;
    const int64_t target_length = flags->target_length > 0 ? flags->target_length : config.pretrain.target_length;
    models::Seq2SeqModel model(config.model);
    const auto rows = models::parameters_by_module(*model);
    const int64_t total = models::parameter_count(*model);
    const auto flops = models::forward_flops_per_token(config.model, input_length, target_length);
    if (flags->json) {
      std::cout << "{\"arch\": \"" << config.model.arch << "\", \"parameters\": " << total << ", \"modules\": {";
      for (size_t i = 0; i < rows.size(); ++i)
        std::cout << (i ? ", " : "") << "\"" << rows[i].module << "\": " << rows[i].count;
      std::cout << "}, \"input_length\": " << input_length << ", \"target_length\": " << target_length
                << ", \"forward_flops_per_token\": {\"encoder\": " << flops.encoder
                << ", \"decoder\": " << flops.decoder << "}}\n";
      return kOk;
    }
    std::cout << config.model.arch << ": " << total << " parameters\n";
    for (const auto& row : rows)
      std::cout << "  " << std::left << std::setw(40) << row.module << std::right << std::setw(14) << row.count << "\n";
    std::cout << std::setprecision(4) << "forward FLOPs per token (input " << input_length << ", target "
              << target_length << "): encoder " << flops.encoder / 1e6 << " M, decoder " << flops.decoder / 1e6
              << " M\n";
    return kOk;
  };
}

}  // namespace convpt::cli
