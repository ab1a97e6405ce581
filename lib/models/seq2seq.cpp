#include "models/seq2seq.h"

#include <cmath>

#include "layers/init.h"

namespace convpt::models {

Architecture parse_architecture(const std::string& name) {
  if (name == "transformer") return Architecture::transformer;
  if (name == "lightconv") return Architecture::lightconv;
  if (name == "dynamicconv") return Architecture::dynamicconv;
  if (name == "dilatedconv") return Architecture::dilatedconv;
  throw std::invalid_argument("unknown architecture '" + name +
                              "' (transformer, lightconv, dynamicconv, dilatedconv)");
}

bool uses_convolutions(Architecture arch) { return arch != Architecture::transformer; }

namespace {
// A per-layer config list holds one value for every layer or one value per layer.
int64_t per_layer(const std::vector<int64_t>& values, int64_t layer_index) {
  return values.size() == 1 ? values.front() : values.at(static_cast<size_t>(layer_index));
}

// Losses and log-probabilities in float32 at least (bf16 logits would lose the small differences that matter).
torch::Tensor at_least_float(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat32);
}

torch::Tensor padding_bias(const torch::Tensor& mask) {  // [B, T] -> [B, 1, 1, T]
  return torch::where(mask, 0.0, layers::kMaskedLogit).to(torch::kFloat32).unsqueeze(1).unsqueeze(1);
}
}  // namespace

Seq2SeqLayerImpl::Seq2SeqLayerImpl(const config::ModelConfig& c, bool is_decoder, int64_t layer_index) {
  const Architecture arch = parse_architecture(c.arch);
  self_norm = register_module("self_norm", layers::RMSNorm(c.d_model, c.norm_epsilon));
  if (uses_convolutions(arch)) {
    layers::ConvBlockOptions options{
        .d_model = c.d_model,
        .heads = c.conv_heads > 0 ? c.conv_heads : c.d_model,
        .kernel_size = per_layer(c.kernel_sizes, layer_index),
        .dilation = per_layer(c.dilations, layer_index),
        .kind = arch == Architecture::dynamicconv ? layers::ConvKind::dynamic : layers::ConvKind::lightweight,
        .window = is_decoder ? ops::ConvWindow::causal : ops::ConvWindow::centred};
    conv = register_module("conv", layers::ConvBlock(options));
  } else {
    self_attention =
        register_module("self_attention", layers::MultiHeadAttention(c.d_model, c.num_heads, c.d_kv, c.dropout));
  }
  if (is_decoder) {
    cross_norm = register_module("cross_norm", layers::RMSNorm(c.d_model, c.norm_epsilon));
    cross_attention =
        register_module("cross_attention", layers::MultiHeadAttention(c.d_model, c.num_heads, c.d_kv, c.dropout));
  }
  ffn_norm = register_module("ffn_norm", layers::RMSNorm(c.d_model, c.norm_epsilon));
  ffn = register_module("ffn", layers::FeedForward(c.d_model, c.d_ff, c.dropout));
  dropout = register_module("dropout", torch::nn::Dropout(c.dropout));
}

torch::Tensor Seq2SeqLayerImpl::forward(torch::Tensor x, const torch::Tensor& mask, const torch::Tensor& self_bias,
                                        const EncoderOutput* encoder, const torch::Tensor& cross_bias,
                                        DecoderLayerCache* cache) {
  const torch::Tensor normed = self_norm(x);
  const torch::Tensor mixed = conv ? conv(normed, mask, cache ? &cache->conv : nullptr)
                                   : self_attention(normed, normed, self_bias, cache ? &cache->self_attention : nullptr);
  x = x + dropout(mixed);
  if (cross_attention) {
    x = x + dropout(cross_attention(cross_norm(x), encoder->hidden, cross_bias,
                                    cache ? &cache->cross_attention : nullptr, /*static_memory=*/true));
  }
  return x + dropout(ffn(ffn_norm(x)));
}

StackImpl::StackImpl(const config::ModelConfig& c, bool is_decoder) : is_decoder_(is_decoder) {
  const int64_t depth = is_decoder ? c.decoder_layers : c.encoder_layers;
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < depth; ++i) layers->push_back(Seq2SeqLayer(c, is_decoder, i));
  if (!uses_convolutions(parse_architecture(c.arch))) {
    relative_bias = register_module(
        "relative_bias", layers::RelativePositionBias(c.relative_attention_buckets, c.relative_attention_max_distance,
                                                      c.num_heads, /*bidirectional=*/!is_decoder, c.d_model));
  }
  final_norm = register_module("final_norm", layers::RMSNorm(c.d_model, c.norm_epsilon));
  dropout = register_module("dropout", torch::nn::Dropout(c.dropout));
}

torch::Tensor StackImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, const EncoderOutput* encoder,
                                 DecoderState* state) {
  const int64_t length = x.size(1), offset = state ? state->length : 0;
  torch::Tensor self_bias;
  if (relative_bias) {
    self_bias = relative_bias(length, offset + length, offset);
    if (is_decoder_) {
      const auto options = torch::TensorOptions().dtype(torch::kLong).device(x.device());
      const torch::Tensor future = torch::arange(offset + length, options).unsqueeze(0) >
                                   torch::arange(offset, offset + length, options).unsqueeze(1);
      self_bias = self_bias + torch::where(future, layers::kMaskedLogit, 0.0).to(self_bias.scalar_type());
    } else if (!mask.all().item<bool>()) {
      // Only a padded batch needs a bias per example: otherwise the bias stays [1, H, T, T] and attention broadcasts
      // it, so long inputs hold no [B, H, T, T] float32 copy (6 GiB at B=8, T=4096 with 12 heads). Asking costs one
      // host sync per forward on a GPU, small beside a step.
      self_bias = self_bias + padding_bias(mask);
    }
  }
  const torch::Tensor cross_bias = encoder ? padding_bias(encoder->mask) : torch::Tensor();
  torch::Tensor h = dropout(x);
  for (size_t i = 0; i < layers->size(); ++i) {
    h = layers[i]->as<Seq2SeqLayer>()->forward(h, mask, self_bias, encoder, cross_bias,
                                               state ? &state->layers[i] : nullptr);
  }
  return dropout(final_norm(h));
}

Seq2SeqModelImpl::Seq2SeqModelImpl(const config::ModelConfig& c) : config_(c), arch_(parse_architecture(c.arch)) {
  shared = register_module("shared", torch::nn::Embedding(c.vocab_size, c.d_model));
  layers::init_normal(shared->weight, 1.0);
  if (uses_convolutions(arch_)) {
    positions = register_module("positions", torch::nn::Embedding(c.max_positions, c.d_model));
    layers::init_normal(positions->weight, 1.0);
  }
  encoder = register_module("encoder", Stack(c, /*is_decoder=*/false));
  decoder = register_module("decoder", Stack(c, /*is_decoder=*/true));
}

torch::Tensor Seq2SeqModelImpl::embed(const torch::Tensor& ids, int64_t first_position) {
  torch::Tensor x = shared(ids);
  if (positions) {
    const int64_t last = first_position + ids.size(1);
    if (last > config_.max_positions)
      throw std::invalid_argument("sequence reaches position " + std::to_string(last) +
                                  ", beyond model.max_positions = " + std::to_string(config_.max_positions));
    x = x + positions(torch::arange(first_position, last, ids.options().dtype(torch::kLong)));
  }
  return x;
}

EncoderOutput Seq2SeqModelImpl::encode(const torch::Tensor& input_ids) {
  const torch::Tensor mask = input_ids != kPadId;
  return {encoder(embed(input_ids, 0), mask, nullptr, nullptr), mask};
}

torch::Tensor Seq2SeqModelImpl::decode(const torch::Tensor& decoder_input_ids, const EncoderOutput& encoder_output,
                                       DecoderState* state) {
  const int64_t first_position = state ? state->length : 0;
  // Decoder padding only ever follows the real targets, and every decoder window is causal, so no mask is needed.
  const torch::Tensor mask = torch::ones_like(decoder_input_ids, torch::kBool);
  const torch::Tensor hidden = decoder(embed(decoder_input_ids, first_position), mask, &encoder_output, state);
  if (state) state->length += decoder_input_ids.size(1);
  // Tied output projection: T5 rescales by d_model^-0.5 first.
  return torch::matmul(hidden * std::pow(double(config_.d_model), -0.5), shared->weight.t().to(hidden.scalar_type()));
}

torch::Tensor Seq2SeqModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& decoder_input_ids) {
  return decode(decoder_input_ids, encode(input_ids));
}

torch::Tensor shift_right(const torch::Tensor& target_ids) {
  return torch::cat({torch::full({target_ids.size(0), 1}, kPadId, target_ids.options()),
                     target_ids.narrow(1, 0, target_ids.size(1) - 1)},
                    1);
}

LossOutput Seq2SeqModelImpl::loss(const torch::Tensor& input_ids, const torch::Tensor& target_ids, double z_loss) {
  const torch::Tensor logits = at_least_float(forward(input_ids, shift_right(target_ids)));
  const torch::Tensor valid = (target_ids != kPadId).to(logits.scalar_type());
  const int64_t tokens = valid.sum().item<int64_t>();
  const double denominator = std::max<int64_t>(tokens, 1);
  const torch::Tensor log_z = torch::logsumexp(logits, -1);
  const torch::Tensor target_logit = logits.gather(-1, target_ids.unsqueeze(-1)).squeeze(-1);
  const torch::Tensor cross_entropy = ((log_z - target_logit) * valid).sum() / denominator;
  torch::Tensor loss = cross_entropy;
  if (z_loss > 0) loss = loss + z_loss * (log_z.pow(2) * valid).sum() / denominator;
  return {loss, cross_entropy, tokens};
}

DecoderState Seq2SeqModelImpl::start_decoding(const EncoderOutput& encoder_output) const {
  return DecoderState{encoder_output, std::vector<DecoderLayerCache>(static_cast<size_t>(config_.decoder_layers)), 0};
}

torch::Tensor Seq2SeqModelImpl::greedy_decode(const torch::Tensor& input_ids, int64_t max_length) {
  torch::NoGradGuard no_grad;
  const EncoderOutput encoder_output = encode(input_ids);
  DecoderState state = start_decoding(encoder_output);
  torch::Tensor next = torch::full({input_ids.size(0), 1}, kPadId, input_ids.options());
  torch::Tensor finished = torch::zeros({input_ids.size(0)}, input_ids.options().dtype(torch::kBool));
  std::vector<torch::Tensor> tokens;
  for (int64_t step = 0; step < max_length; ++step) {
    const torch::Tensor logits = decode(next, encoder_output, &state);
    torch::Tensor token = logits.select(1, logits.size(1) - 1).argmax(-1);
    token = torch::where(finished, kPadId, token);
    tokens.push_back(token);
    finished = finished | (token == kEosId);
    if (finished.all().item<bool>()) break;
    next = token.unsqueeze(1);
  }
  return torch::stack(tokens, 1);
}

torch::Tensor Seq2SeqModelImpl::score_candidates(const torch::Tensor& input_ids,
                                                 const std::vector<std::vector<int64_t>>& candidates) {
  const EncoderOutput encoder_output = encode(input_ids);
  const int64_t batch = input_ids.size(0);
  std::vector<torch::Tensor> scores;
  for (const auto& candidate : candidates) {
    std::vector<int64_t> ids = candidate;
    ids.push_back(kEosId);
    const torch::Tensor targets =
        torch::tensor(ids, input_ids.options()).unsqueeze(0).expand({batch, static_cast<int64_t>(ids.size())});
    const torch::Tensor log_probs = torch::log_softmax(at_least_float(decode(shift_right(targets), encoder_output)), -1);
    scores.push_back(log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).sum(1));
  }
  return torch::stack(scores, 1);
}

}  // namespace convpt::models
