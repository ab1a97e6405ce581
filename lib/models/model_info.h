#pragma once
// Size and cost of a model: parameters per module and analytic forward FLOPs per token.
#include <string>
#include <vector>

#include "models/seq2seq.h"

namespace convpt::models {

struct ModuleParameters {
  std::string module;  // dotted path; "layers.*" sums the same module over all layers of a stack
  int64_t count = 0;
};

// Parameters grouped by module, in registration order, plus nothing hidden: the rows sum to the total.
std::vector<ModuleParameters> parameters_by_module(const Seq2SeqModelImpl& model);
int64_t parameter_count(const Seq2SeqModelImpl& model);

struct FlopsPerToken {
  double encoder = 0;  // per input token, encoder forward
  double decoder = 0;  // per target token, decoder forward including cross-attention and the output projection
};

// Multiply-adds count as 2 FLOPs; element-wise work (norms, softmax, activations) is ignored. Attention is counted
// as computed (dense T x T scores, also under the causal mask). A training step costs about 3x the forward.
FlopsPerToken forward_flops_per_token(const config::ModelConfig& config, int64_t input_length, int64_t target_length);

}  // namespace convpt::models
