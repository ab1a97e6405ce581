#include "models/model_info.h"

#include <map>
#include <regex>

namespace convpt::models {

std::vector<ModuleParameters> parameters_by_module(const Seq2SeqModelImpl& model) {
  // encoder.layers.3.ffn.wi.weight -> encoder.layers.*.ffn ; shared.weight -> shared
  static const std::regex layer_module(R"(^(\w+)\.layers\.\d+\.(\w+)\..*$)");
  static const std::regex other_module(R"(^(\w+(\.\w+)?)\.[^.]+$)");
  std::vector<ModuleParameters> rows;
  std::map<std::string, size_t> index;
  for (const auto& item : model.named_parameters()) {
    std::smatch match;
    std::string module = item.key();
    if (std::regex_match(item.key(), match, layer_module)) {
      module = match[1].str() + ".layers.*." + match[2].str();
    } else if (std::regex_match(item.key(), match, other_module)) {
      module = match[1].str();
    }
    if (!index.count(module)) index[module] = rows.size(), rows.push_back({module, 0});
    rows[index[module]].count += item.value().numel();
  }
  return rows;
}

int64_t parameter_count(const Seq2SeqModelImpl& model) {
  int64_t total = 0;
  for (const auto& p : model.parameters()) total += p.numel();
  return total;
}

FlopsPerToken forward_flops_per_token(const config::ModelConfig& c, int64_t input_length, int64_t target_length) {
  const double d = c.d_model, inner = double(c.num_heads) * c.d_kv, ffn = 4.0 * d * c.d_ff;
  const Architecture arch = parse_architecture(c.arch);
  const double heads = c.conv_heads > 0 ? c.conv_heads : c.d_model;
  auto mean_kernel = [&] {
    double sum = 0;
    for (int64_t k : c.kernel_sizes) sum += k;
    return sum / c.kernel_sizes.size();
  };
  // Self-mixing cost per token at sequence length `length`.
  auto self_mixing = [&](double length) {
    if (!uses_convolutions(arch)) return 2.0 * 4 * d * inner + 4.0 * length * inner;  // q,k,v,o + scores + mix
    const double k = mean_kernel();
    double cost = 2.0 * 4 * d * d + 2.0 * k * d;  // GLU (2 d x d), pointwise, output; the depthwise taps
    if (arch == Architecture::dynamicconv) cost += 2.0 * d * heads * k;  // tap prediction
    return cost;
  };
  FlopsPerToken flops;
  flops.encoder = c.encoder_layers * (self_mixing(double(input_length)) + ffn);
  // Cross-attention: q and o per target token, k and v once per input token (amortised over the targets).
  const double cross = 2.0 * 2 * d * inner + 2.0 * 2 * d * inner * input_length / target_length +
                       4.0 * input_length * inner;
  flops.decoder = c.decoder_layers * (self_mixing(double(target_length)) + cross + ffn) + 2.0 * d * c.vocab_size;
  return flops;
}

}  // namespace convpt::models
