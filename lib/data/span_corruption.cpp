#include "data/span_corruption.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace convpt::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// tf.round in float32: round half to even (the default floating-point rounding mode).
int64_t round_half_even(float x) { return static_cast<int64_t>(std::nearbyint(x)); }

// T5's _random_segmentation: `num_items` split into `num_segments` non-empty segments, every composition equally
// likely. T5 shuffles num_segments - 1 "segment starts here" marks among the num_items - 1 gaps between items.
std::vector<int64_t> random_segmentation(int64_t num_items, int64_t num_segments, Rng& rng) {
  std::vector<uint8_t> starts(static_cast<size_t>(num_items - 1), 0);
  std::fill(starts.begin(), starts.begin() + (num_segments - 1), 1);
  rng.shuffle(starts);
  std::vector<int64_t> lengths(static_cast<size_t>(num_segments), 0);
  size_t segment = 0;
  lengths[0] = 1;
  for (const uint8_t start : starts) {
    segment += start;
    ++lengths[segment];
  }
  return lengths;
}

}  // namespace

Rng Rng::keyed(std::initializer_list<uint64_t> key) {
  uint64_t state = 0;
  for (const uint64_t part : key) state = splitmix64(state ^ part);
  return Rng(state);
}

uint64_t Rng::below(uint64_t n) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t limit = max - (max % n + 1) % n;  // draws above `limit` would favour small values
  uint64_t x;
  do x = engine_();
  while (x > limit);
  return x % n;
}

NoiseCounts noise_counts(int64_t length, const SpanCorruptionOptions& options) {
  if (!(options.noise_density > 0 && options.noise_density < 1) || !(options.mean_noise_span_length >= 1))
    throw std::invalid_argument("span corruption needs 0 < noise_density < 1 and mean_noise_span_length >= 1");
  length = std::max<int64_t>(length, 2);
  NoiseCounts counts;
  counts.noise_tokens = round_half_even(static_cast<float>(length) * static_cast<float>(options.noise_density));
  counts.noise_tokens = std::clamp<int64_t>(counts.noise_tokens, 1, length - 1);
  counts.noise_spans = round_half_even(static_cast<float>(counts.noise_tokens) /
                                       static_cast<float>(options.mean_noise_span_length));
  counts.noise_spans = std::clamp<int64_t>(counts.noise_spans, 1, length - counts.noise_tokens);
  return counts;
}

CorruptionLengths compute_input_and_target_lengths(int64_t inputs_length, const SpanCorruptionOptions& options) {
  // From 3 on, every candidate raw length is >= 2 and masked as it is (shorter ones are masked as length 2).
  if (inputs_length < 3) throw std::invalid_argument("span corruption needs inputs_length >= 3");
  const auto lengths_for = [&](int64_t tokens) {  // (inputs, targets), each with its EOS
    const NoiseCounts c = noise_counts(tokens, options);
    return std::pair{tokens - c.noise_tokens + c.noise_spans + 1, c.noise_tokens + c.noise_spans + 1};
  };
  int64_t tokens = inputs_length - 1;
  while (lengths_for(tokens + 1).first <= inputs_length) ++tokens;
  CorruptionLengths result{tokens, lengths_for(tokens).second};
  // T5's "minor hack" so that targets do not outgrow inputs at noise density 0.5.
  if (options.noise_density == 0.5 && result.targets_length > inputs_length) {
    --result.raw_tokens;
    --result.targets_length;
  }
  return result;
}

std::vector<bool> random_spans_noise_mask(int64_t length, const SpanCorruptionOptions& options, Rng& rng) {
  const int64_t padded = std::max<int64_t>(length, 2);  // T5 masks at least 2 tokens, then cuts back
  const NoiseCounts counts = noise_counts(padded, options);
  const auto noise = random_segmentation(counts.noise_tokens, counts.noise_spans, rng);
  const auto nonnoise = random_segmentation(padded - counts.noise_tokens, counts.noise_spans, rng);
  std::vector<bool> mask;
  mask.reserve(static_cast<size_t>(padded));
  for (size_t span = 0; span < noise.size(); ++span) {
    mask.insert(mask.end(), static_cast<size_t>(nonnoise[span]), false);
    mask.insert(mask.end(), static_cast<size_t>(noise[span]), true);
  }
  mask.resize(static_cast<size_t>(std::max<int64_t>(length, 0)));
  return mask;
}

void span_corrupt(std::span<const int32_t> tokens, const SpanCorruptionOptions& options, const SentinelRange& sentinels,
                  Rng& rng, std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  const std::vector<bool> mask = random_spans_noise_mask(static_cast<int64_t>(tokens.size()), options, rng);
  inputs.clear();
  targets.clear();
  // As T5: the inputs replace each noise span by a sentinel, the targets each non-noise span, numbered from the top
  // in order. The mask starts with non-noise and alternates, so non-noise span i and noise span i share sentinel i.
  int32_t input_spans = 0, target_spans = 0;
  const auto next_sentinel = [&](int32_t& used) {
    if (used == sentinels.num_sentinels)
      throw std::invalid_argument("span corruption of " + std::to_string(tokens.size()) + " tokens needs more than " +
                                  std::to_string(sentinels.num_sentinels) + " sentinels");
    return sentinels.top_sentinel - used++;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool span_start = i == 0 || mask[i] != mask[i - 1];
    auto& kept = mask[i] ? targets : inputs;
    auto& replaced = mask[i] ? inputs : targets;
    if (span_start) replaced.push_back(next_sentinel(mask[i] ? input_spans : target_spans));
    kept.push_back(tokens[i]);
  }
  inputs.push_back(sentinels.eos);
  targets.push_back(sentinels.eos);
}

}  // namespace convpt::data
