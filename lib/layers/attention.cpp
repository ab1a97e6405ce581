#include "layers/attention.h"

#include <cmath>

#include "layers/init.h"

namespace convpt::layers {

torch::Tensor relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional, int64_t num_buckets,
                                       int64_t max_distance) {
  torch::Tensor buckets = torch::zeros_like(relative_position);
  torch::Tensor distance;
  if (bidirectional) {
    num_buckets /= 2;
    buckets += (relative_position > 0).to(torch::kLong) * num_buckets;
    distance = relative_position.abs();
  } else {
    distance = -torch::clamp_max(relative_position, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  const torch::Tensor is_small = distance < max_exact;
  // Distances in [max_exact, max_distance) share the remaining buckets logarithmically; beyond, the last bucket.
  torch::Tensor if_large =
      max_exact + (torch::log(distance.to(torch::kFloat32) / max_exact) / std::log(double(max_distance) / max_exact) *
                   double(num_buckets - max_exact))
                      .to(torch::kLong);
  if_large = torch::clamp_max(if_large, num_buckets - 1);
  return buckets + torch::where(is_small, distance, if_large);
}

RelativePositionBiasImpl::RelativePositionBiasImpl(int64_t num_buckets, int64_t max_distance, int64_t num_heads,
                                                   bool bidirectional, int64_t d_model)
    : num_buckets_(num_buckets), max_distance_(max_distance), bidirectional_(bidirectional) {
  table = register_module("table", torch::nn::Embedding(num_buckets, num_heads));
  init_normal(table->weight, std::pow(d_model, -0.5));
}

torch::Tensor RelativePositionBiasImpl::forward(int64_t query_length, int64_t key_length, int64_t query_offset) {
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(table->weight.device());
  const torch::Tensor query_position = torch::arange(query_offset, query_offset + query_length, options).unsqueeze(1);
  const torch::Tensor key_position = torch::arange(key_length, options).unsqueeze(0);
  const torch::Tensor buckets =
      relative_position_bucket(key_position - query_position, bidirectional_, num_buckets_, max_distance_);
  // [Tq, Tk, H] -> [1, H, Tq, Tk], made contiguous: CUDA's fused attention kernels take a mask only if its last
  // dimension has stride 1, and otherwise attention falls back to the math path, which holds B x H x Tq x Tk tensors.
  return table(buckets).permute({2, 0, 1}).contiguous().unsqueeze(0);
}

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t d_model, int64_t num_heads, int64_t d_kv, double dropout)
    : num_heads_(num_heads), d_kv_(d_kv), dropout_(dropout) {
  const int64_t inner = num_heads * d_kv;
  auto linear = [&](const char* name, int64_t in, int64_t out) {
    return register_module(name, torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)));
  };
  q = linear("q", d_model, inner);
  k = linear("k", d_model, inner);
  v = linear("v", d_model, inner);
  o = linear("o", inner, d_model);
  init_normal(q->weight, std::pow(double(d_model) * d_kv, -0.5));  // includes the 1/sqrt(d_kv) logit scale
  init_normal(k->weight, std::pow(d_model, -0.5));
  init_normal(v->weight, std::pow(d_model, -0.5));
  init_normal(o->weight, std::pow(inner, -0.5));
}

torch::Tensor MultiHeadAttentionImpl::split_heads(const torch::Tensor& x) const {
  return x.view({x.size(0), x.size(1), num_heads_, d_kv_}).transpose(1, 2);
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& query_input, const torch::Tensor& memory,
                                              const torch::Tensor& bias, KeyValueCache* cache, bool static_memory) {
  const torch::Tensor query = split_heads(q(query_input));
  torch::Tensor keys, values;
  if (cache && static_memory && cache->keys.defined()) {
    keys = cache->keys, values = cache->values;
  } else {
    keys = split_heads(k(memory));
    values = split_heads(v(memory));
    if (cache && !static_memory && cache->keys.defined()) {
      keys = torch::cat({cache->keys, keys}, 2);
      values = torch::cat({cache->values, values}, 2);
    }
    if (cache) cache->keys = keys, cache->values = values;
  }
  const torch::Tensor mixed = at::scaled_dot_product_attention(
      query, keys, values, bias.to(query.scalar_type()), is_training() ? dropout_ : 0.0, /*is_causal=*/false,
      /*scale=*/1.0);
  const int64_t batch = query_input.size(0), length = query_input.size(1);
  return o(mixed.transpose(1, 2).reshape({batch, length, num_heads_ * d_kv_}));
}

}  // namespace convpt::layers
