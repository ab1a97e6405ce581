#pragma once
// The encoder-decoder of the paper: a T5-style Transformer, or the same network whose self-attention is replaced
// by lightweight, dynamic or dilated convolution blocks (cross-attention stays in every decoder layer).
#include <torch/torch.h>

#include <vector>

#include "config/config.h"
#include "layers/attention.h"
#include "layers/conv_block.h"
#include "layers/feed_forward.h"
#include "layers/rms_norm.h"

namespace convpt::models {

// T5's special ids: padding doubles as the decoder's start token.
constexpr int64_t kPadId = 0;
constexpr int64_t kEosId = 1;

enum class Architecture { transformer, lightconv, dynamicconv, dilatedconv };
Architecture parse_architecture(const std::string& name);  // throws std::invalid_argument
bool uses_convolutions(Architecture arch);

// What one decoder layer remembers between incremental decoding steps.
struct DecoderLayerCache {
  layers::KeyValueCache self_attention;
  layers::ConvCache conv;
  layers::KeyValueCache cross_attention;
};

struct EncoderOutput {
  torch::Tensor hidden;  // [B, T, d]
  torch::Tensor mask;    // [B, T] bool, true at real tokens
};

// State of incremental (step-by-step or chunked) decoding for one batch.
struct DecoderState {
  EncoderOutput encoder;
  std::vector<DecoderLayerCache> layers;
  int64_t length = 0;  // decoder positions consumed so far
};

// One pre-norm residual layer: self-mixing (attention or conv) -> [cross-attention] -> feed-forward.
class Seq2SeqLayerImpl : public torch::nn::Module {
 public:
  Seq2SeqLayerImpl(const config::ModelConfig& config, bool is_decoder, int64_t layer_index);

  // self_bias: attention bias (relative positions + masks) for transformer layers, undefined for conv layers.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask, const torch::Tensor& self_bias,
                        const EncoderOutput* encoder, const torch::Tensor& cross_bias, DecoderLayerCache* cache);

  layers::RMSNorm self_norm{nullptr}, cross_norm{nullptr}, ffn_norm{nullptr};
  layers::MultiHeadAttention self_attention{nullptr}, cross_attention{nullptr};
  layers::ConvBlock conv{nullptr};
  layers::FeedForward ffn{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Seq2SeqLayer);

// A stack of layers with its shared relative position bias (Transformer) and final norm.
class StackImpl : public torch::nn::Module {
 public:
  StackImpl(const config::ModelConfig& config, bool is_decoder);
  // x: embedded inputs [B, T, d]. The decoder needs `encoder`; with `state` it continues from state->length.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const EncoderOutput* encoder,
                        DecoderState* state);

  torch::nn::ModuleList layers;
  layers::RelativePositionBias relative_bias{nullptr};
  layers::RMSNorm final_norm{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  bool is_decoder_;
};
TORCH_MODULE(Stack);

struct LossOutput {
  torch::Tensor loss;           // cross-entropy + z-loss, mean over target tokens
  torch::Tensor cross_entropy;  // mean over target tokens
  int64_t target_tokens = 0;
};

class Seq2SeqModelImpl : public torch::nn::Module {
 public:
  explicit Seq2SeqModelImpl(const config::ModelConfig& config);

  EncoderOutput encode(const torch::Tensor& input_ids);
  // Logits [B, T, V] for decoder inputs [B, T]; with `state`, the inputs continue the decoded prefix.
  torch::Tensor decode(const torch::Tensor& decoder_input_ids, const EncoderOutput& encoder,
                       DecoderState* state = nullptr);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& decoder_input_ids);

  // Teacher-forced loss of `target_ids` (padded with kPadId, which is ignored); z_loss adds
  // z_loss * logsumexp(logits)^2 per token, as in T5/PaLM.
  LossOutput loss(const torch::Tensor& input_ids, const torch::Tensor& target_ids, double z_loss = 0.0);

  DecoderState start_decoding(const EncoderOutput& encoder) const;
  // Greedy decoding with caches; rows stop at EOS (later positions are kPadId). Returns [B, <= max_length].
  torch::Tensor greedy_decode(const torch::Tensor& input_ids, int64_t max_length);
  // Log-likelihood of each candidate target (token ids, EOS appended here) for each input: [B, candidates].
  torch::Tensor score_candidates(const torch::Tensor& input_ids, const std::vector<std::vector<int64_t>>& candidates);

  const config::ModelConfig& config() const { return config_; }
  Architecture architecture() const { return arch_; }

  torch::nn::Embedding shared{nullptr};     // input embedding of both stacks and (tied) output projection
  torch::nn::Embedding positions{nullptr};  // learned absolute positions, conv models only
  Stack encoder{nullptr}, decoder{nullptr};

 private:
  torch::Tensor embed(const torch::Tensor& ids, int64_t first_position);
  config::ModelConfig config_;
  Architecture arch_;
};
TORCH_MODULE(Seq2SeqModel);

// T5's shift: decoder inputs are the targets delayed by one step, starting with kPadId.
torch::Tensor shift_right(const torch::Tensor& target_ids);

}  // namespace convpt::models
