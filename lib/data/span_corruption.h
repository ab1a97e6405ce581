#pragma once
// T5 span corruption (Raffel et al. 2020), with the semantics of t5.data.preprocessors: random_spans_noise_mask,
// noise_span_to_unique_sentinel (inputs), nonnoise_span_to_unique_sentinel (targets), random_spans_helper.
//
// A sequence is split into alternating spans that start with non-noise and end with noise; with sentinels S0 > S1
// counted down from the top of the vocabulary and E = EOS:
//   tokens  a b [c d] e f g [h i j]   ->   inputs  a b S0 e f g S1 E     targets  S0 c d S1 h i j E
// so inputs and targets together hold every token once, and each sentinel once in each.
#include <cstdint>
#include <initializer_list>
#include <random>
#include <span>
#include <vector>

namespace convpt::data {

// The random source of the data pipeline: std::mt19937_64 (fully specified by the standard) with our own bounded
// draw, because std::uniform_int_distribution differs between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // A keyed stream: the same key always gives the same numbers, whatever else was drawn before. The data
  // pipeline keys by (seed, purpose, epoch, item), so results do not depend on the order items are processed in.
  static Rng keyed(std::initializer_list<uint64_t> key);
  // Uniform in [0, n) by rejection (no modulo bias); n > 0.
  uint64_t below(uint64_t n);
  template <class T> void shuffle(std::vector<T>& items) {  // Fisher-Yates
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

struct SpanCorruptionOptions {  // functions below throw std::invalid_argument unless 0 < density < 1, span >= 1
  double noise_density = 0.15;
  double mean_noise_span_length = 3.0;
};

// How many tokens of a sequence of `length` are noise and in how many spans, as T5's random_spans_noise_mask
// computes them (float32 arithmetic, round half to even, as TensorFlow): noise = round(length * density) clamped to
// [1, length - 1], spans = round(noise / mean_span) clamped to >= 1. Lengths below 2 are treated as 2. One
// deviation, where T5 would produce an invalid mask: spans are capped at the number of non-noise tokens, since
// every noise span needs a non-noise span before it.
struct NoiseCounts {
  int64_t noise_tokens = 0;
  int64_t noise_spans = 0;
};
NoiseCounts noise_counts(int64_t length, const SpanCorruptionOptions& options);

// T5's random_spans_helper: the raw token count whose corrupted inputs (plus EOS) fill `inputs_length` (>= 3)
// exactly, and the resulting targets length (plus EOS): (512, 0.15, 3) -> (568, 114). It counts with noise_counts,
// the arithmetic of the mask itself, so the lengths it promises are the lengths span_corrupt produces. (T5 counts
// here in float64, which differs where a product is .5 in one and not the other: for inputs of 172 it promises 38
// targets where its mask makes 40.)
struct CorruptionLengths {
  int64_t raw_tokens = 0;
  int64_t targets_length = 0;
};
CorruptionLengths compute_input_and_target_lengths(int64_t inputs_length, const SpanCorruptionOptions& options);

// T5's random_spans_noise_mask: true marks a noise token. Span lengths come from T5's _random_segmentation (a
// uniformly random composition of the noise and non-noise counts into the given number of non-empty spans).
std::vector<bool> random_spans_noise_mask(int64_t length, const SpanCorruptionOptions& options, Rng& rng);

// Span-corrupts `tokens` with the mask above. Sentinel i (the i-th noise span, from 0) is `top_sentinel - i`, as
// T5 with its extra ids at the top of the vocabulary; `num_sentinels` bounds the spans (std::invalid_argument if
// the sequence needs more). EOS is appended to both. Outputs are overwritten.
struct SentinelRange {
  int32_t top_sentinel = 0;  // <extra_id_0>: vocabulary size - 1
  int32_t num_sentinels = 0;
  int32_t eos = 1;
};
void span_corrupt(std::span<const int32_t> tokens, const SpanCorruptionOptions& options, const SentinelRange& sentinels,
                  Rng& rng, std::vector<int32_t>& inputs, std::vector<int32_t>& targets);

}  // namespace convpt::data
