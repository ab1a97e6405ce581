// T5 span corruption: noise counts, span structure, sentinels, exact reconstruction, lengths, determinism.
#include <catch2/catch.hpp>

#include <numeric>
#include <set>

#include "data/span_corruption.h"

using namespace convpt::data;

namespace {

constexpr int32_t kTop = 8099;  // 8,000 pieces + 100 sentinels
constexpr SentinelRange kSentinels{kTop, 100, 1};

bool is_sentinel(int32_t id) { return id > kTop - 100 && id <= kTop; }

std::vector<int32_t> sequence(int64_t length) {  // ids that are neither special nor sentinels
  std::vector<int32_t> tokens(static_cast<size_t>(length));
  std::iota(tokens.begin(), tokens.end(), 3);
  return tokens;
}

// Counts the maximal runs of true.
int64_t runs(const std::vector<bool>& mask) {
  int64_t count = 0;
  for (size_t i = 0; i < mask.size(); ++i) count += mask[i] && (i == 0 || !mask[i - 1]);
  return count;
}

// Undoes span corruption: every sentinel in the inputs is replaced by what follows it in the targets.
std::vector<int32_t> reconstruct(const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets) {
  std::vector<int32_t> tokens;
  for (const int32_t id : inputs) {
    if (id == 1) break;
    if (!is_sentinel(id)) {
      tokens.push_back(id);
      continue;
    }
    auto at = std::find(targets.begin(), targets.end(), id);
    REQUIRE(at != targets.end());
    for (++at; at != targets.end() && *at != 1 && !is_sentinel(*at); ++at) tokens.push_back(*at);
  }
  return tokens;
}

}  // namespace

TEST_CASE("input and target lengths as T5's random_spans_helper", "[span_corruption]") {
  const auto paper = compute_input_and_target_lengths(512, {0.15, 3.0});
  CHECK(paper.raw_tokens == 568);
  CHECK(paper.targets_length == 114);
  // For 172, T5's float64 helper promises 38 targets while its float32 mask makes 40 (190 * 0.15f = 28.500002
  // rounds up, 190 * 0.15 = 28.5 rounds to even); we count as the mask does.
  const auto odd = compute_input_and_target_lengths(172, {0.15, 3.0});
  CHECK(odd.raw_tokens == 190);
  CHECK(odd.targets_length == 40);
  const auto half = compute_input_and_target_lengths(100, {0.5, 3.0});  // T5's correction at density 0.5
  CHECK(half.targets_length <= 100);
  CHECK_THROWS_AS(compute_input_and_target_lengths(2, {0.15, 3.0}), std::invalid_argument);
  CHECK_THROWS_AS(compute_input_and_target_lengths(512, {1.5, 3.0}), std::invalid_argument);
  CHECK_THROWS_AS(compute_input_and_target_lengths(512, {0.15, 0.5}), std::invalid_argument);
}

TEST_CASE("noise counts: round half to even in float32, clamped", "[span_corruption]") {
  const SpanCorruptionOptions t5;
  CHECK(noise_counts(1, t5).noise_tokens == 1);    // treated as length 2
  CHECK(noise_counts(2, t5).noise_tokens == 1);    // round(0.3) = 0, clamped to 1
  CHECK(noise_counts(10, t5).noise_tokens == 2);   // 10 * 0.15f = 1.5 -> even
  CHECK(noise_counts(30, t5).noise_tokens == 4);   // 4.5 -> even
  CHECK(noise_counts(190, t5).noise_tokens == 29);  // 28.500002
  CHECK(noise_counts(568, t5).noise_tokens == 85);
  CHECK(noise_counts(568, t5).noise_spans == 28);
  CHECK(noise_counts(3, {0.9, 1.0}).noise_tokens == 2);  // clamped to length - 1
  CHECK(noise_counts(3, {0.9, 1.0}).noise_spans == 1);   // capped by the one non-noise token
}

TEST_CASE("masks have exactly the specified noise and spans, starting with non-noise", "[span_corruption]") {
  for (const SpanCorruptionOptions options : {SpanCorruptionOptions{0.15, 3.0}, SpanCorruptionOptions{0.5, 1.0},
                                              SpanCorruptionOptions{0.3, 8.0}})
    for (int64_t length = 2; length <= 700; length += (length < 50 ? 1 : 37))
      for (uint64_t seed = 0; seed < 5; ++seed) {
        Rng rng(seed);
        const auto mask = random_spans_noise_mask(length, options, rng);
        const NoiseCounts expected = noise_counts(length, options);
        INFO("length " << length << " density " << options.noise_density << " seed " << seed);
        REQUIRE(static_cast<int64_t>(mask.size()) == length);
        CHECK(std::count(mask.begin(), mask.end(), true) == expected.noise_tokens);
        CHECK(runs(mask) == expected.noise_spans);
        CHECK_FALSE(mask.front());
        CHECK(mask.back());  // T5's last span is noise
      }
  Rng rng(0);
  CHECK(random_spans_noise_mask(1, {}, rng) == std::vector<bool>{false});
  CHECK(random_spans_noise_mask(0, {}, rng).empty());
}

TEST_CASE("span lengths are spread around the mean", "[span_corruption]") {
  Rng rng(7);
  int64_t noise = 0, spans = 0, longest = 0;
  for (int i = 0; i < 200; ++i) {
    const auto mask = random_spans_noise_mask(568, {}, rng);
    noise += std::count(mask.begin(), mask.end(), true);
    spans += runs(mask);
    for (int64_t run = 0, j = 0; j < 568; ++j) longest = std::max(longest, run = mask[j] ? run + 1 : 0);
  }
  CHECK(static_cast<double>(noise) / spans == Approx(85.0 / 28.0));
  CHECK(longest > 6);  // random segmentation, not equal spans
}

TEST_CASE("inputs and targets: sentinels once each, in order, and the original is recoverable", "[span_corruption]") {
  std::vector<int32_t> inputs, targets;
  for (int64_t length = 2; length <= 600; length += (length < 40 ? 1 : 23))
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const auto tokens = sequence(length);
      Rng rng = Rng::keyed({seed, static_cast<uint64_t>(length)});
      span_corrupt(tokens, {}, kSentinels, rng, inputs, targets);
      INFO("length " << length << " seed " << seed);
      REQUIRE(inputs.back() == 1);
      REQUIRE(targets.back() == 1);
      std::vector<int32_t> in_inputs, in_targets;
      std::copy_if(inputs.begin(), inputs.end(), std::back_inserter(in_inputs), is_sentinel);
      std::copy_if(targets.begin(), targets.end(), std::back_inserter(in_targets), is_sentinel);
      const int64_t spans = noise_counts(length, {}).noise_spans;
      REQUIRE(static_cast<int64_t>(in_inputs.size()) == spans);
      CHECK(in_inputs == in_targets);
      for (size_t i = 0; i < in_inputs.size(); ++i) CHECK(in_inputs[i] == kTop - static_cast<int32_t>(i));
      CHECK(targets.front() == kTop);  // targets start with <extra_id_0>
      CHECK(reconstruct(inputs, targets) == tokens);
      CHECK(static_cast<int64_t>(inputs.size() + targets.size()) == length + 2 * spans + 2);
    }
}

TEST_CASE("a one-token chunk keeps its token and, as T5, targets a sentinel for it", "[span_corruption]") {
  // T5 masks 2 tokens and cuts the mask back to [non-noise]: the inputs keep the token, and the targets replace the
  // non-noise span by <extra_id_0>.
  std::vector<int32_t> inputs, targets;
  Rng rng(0);
  span_corrupt(sequence(1), {}, kSentinels, rng, inputs, targets);
  CHECK(inputs == std::vector<int32_t>{3, 1});
  CHECK(targets == std::vector<int32_t>{kTop, 1});
  span_corrupt(sequence(0), {}, kSentinels, rng, inputs, targets);
  CHECK(inputs == std::vector<int32_t>{1});
  CHECK(targets == std::vector<int32_t>{1});
}

TEST_CASE("a chunk of the raw length fills the inputs exactly and the promised targets", "[span_corruption]") {
  std::vector<int32_t> inputs, targets;
  for (int64_t inputs_length = 3; inputs_length <= 1024; ++inputs_length) {
    const auto lengths = compute_input_and_target_lengths(inputs_length, {});
    Rng rng(static_cast<uint64_t>(inputs_length));
    span_corrupt(sequence(lengths.raw_tokens), {}, {kTop, 1000, 1}, rng, inputs, targets);
    INFO("inputs_length " << inputs_length);
    CHECK(static_cast<int64_t>(inputs.size()) == inputs_length);
    CHECK(static_cast<int64_t>(targets.size()) == lengths.targets_length);
  }
}

TEST_CASE("deterministic under a key, different across keys", "[span_corruption]") {
  const auto tokens = sequence(568);
  std::vector<int32_t> a_in, a_out, b_in, b_out;
  Rng a = Rng::keyed({1, 2, 3}), b = Rng::keyed({1, 2, 3});
  span_corrupt(tokens, {}, kSentinels, a, a_in, a_out);
  span_corrupt(tokens, {}, kSentinels, b, b_in, b_out);
  CHECK(a_in == b_in);
  CHECK(a_out == b_out);
  std::set<std::vector<int32_t>> distinct;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng = Rng::keyed({seed, 2, 3});
    span_corrupt(tokens, {}, kSentinels, rng, a_in, a_out);
    distinct.insert(a_in);
  }
  CHECK(distinct.size() == 20);
}

TEST_CASE("more spans than sentinels is an error", "[span_corruption]") {
  std::vector<int32_t> inputs, targets;
  Rng rng(0);
  CHECK_THROWS_WITH(span_corrupt(sequence(568), {}, {kTop, 10, 1}, rng, inputs, targets),
                    Catch::Matchers::Contains("more than 10 sentinels"));
}

TEST_CASE("bounded draws stay in range and cover it", "[span_corruption]") {
  Rng rng(3);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) ++counts.at(rng.below(7));
  for (const int c : counts) CHECK(c > 800);
  CHECK(Rng::keyed({5, 6}).below(1000000) == Rng::keyed({5, 6}).below(1000000));
}
