#pragma once
// T5 multi-head attention and its relative position bias.
#include <torch/torch.h>

namespace convpt::layers {

// T5's `_relative_position_bucket`: maps (key position - query position) to one of `num_buckets` buckets; exact
// for small distances, logarithmic up to `max_distance`. Bidirectional (encoder) uses half the buckets per sign;
// unidirectional (causal decoder) only looks back.
torch::Tensor relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional, int64_t num_buckets,
                                       int64_t max_distance);

// Learned scalar bias per (bucket, head), shared by all layers of one stack.
class RelativePositionBiasImpl : public torch::nn::Module {
 public:
  RelativePositionBiasImpl(int64_t num_buckets, int64_t max_distance, int64_t num_heads, bool bidirectional,
                           int64_t d_model);
  // Bias [1, H, Tq, Tk] for queries at positions query_offset .. query_offset+Tq-1 and keys at 0 .. Tk-1.
  torch::Tensor forward(int64_t query_length, int64_t key_length, int64_t query_offset = 0);

  torch::nn::Embedding table{nullptr};

 private:
  int64_t num_buckets_, max_distance_;
  bool bidirectional_;
};
TORCH_MODULE(RelativePositionBias);

// Keys and values seen so far by one attention layer during incremental decoding.
struct KeyValueCache {
  torch::Tensor keys, values;  // [B, H, T, d_kv]; undefined before the first step
};

// Multi-head attention without biases. As in T5, logits are not divided by sqrt(d_kv): that scale is folded into
// the initialisation of the query projection.
class MultiHeadAttentionImpl : public torch::nn::Module {
 public:
  MultiHeadAttentionImpl(int64_t d_model, int64_t num_heads, int64_t d_kv, double dropout);

  // query_input [B, Tq, d], memory [B, Tk, d]; `bias` broadcasts to [B, H, Tq, Tk] and is added to the logits
  // (relative positions, causal and padding masks). With a cache, memory holds only the new positions; their keys
  // and values are appended (self-attention while decoding). `static_memory` caches keys/values once (cross-attention).
  torch::Tensor forward(const torch::Tensor& query_input, const torch::Tensor& memory, const torch::Tensor& bias,
                        KeyValueCache* cache = nullptr, bool static_memory = false);

  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};

 private:
  torch::Tensor split_heads(const torch::Tensor& x) const;  // [B, T, H*d_kv] -> [B, H, T, d_kv]
  int64_t num_heads_, d_kv_;
  double dropout_;
};
TORCH_MODULE(MultiHeadAttention);

// Additive mask value: large and finite so that fully masked rows give uniform weights instead of NaN.
constexpr double kMaskedLogit = -1e9;

}  // namespace convpt::layers
