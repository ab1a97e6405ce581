// Batch streams: packing and shapes, padding, seeded epochs, exact resume, rank striding, single passes.
#include <catch2/catch.hpp>

#include <numeric>
#include <set>

#include "data/batching.h"
#include "temp_dir.h"

using namespace convpt::data;
using convpt::test::TempDir;

namespace {

constexpr int64_t kVocab = 1100;  // 1,000 pieces + 100 sentinels
constexpr int32_t kEos = 1;

// A shard of `documents` documents whose tokens count up, so that any chunk says where it came from.
std::filesystem::path make_shard(const TempDir& dir, int64_t documents) {
  const auto prefix = dir.path() / "train";
  ShardWriter writer(prefix, kVocab);
  Rng rng(1);
  int32_t next = 0;
  for (int64_t d = 0; d < documents; ++d) {
    std::vector<int32_t> document(rng.below(120));
    for (auto& id : document) id = 3 + next++ % 997;
    writer.add(document);
  }
  writer.finish();
  return prefix;
}

PretrainOptions tiny_options() {
  PretrainOptions options;
  options.batch_size = 3;
  options.input_length = 64;  // raw chunks of 70 tokens, targets of 14, padded here to 16
  options.target_length = 16;
  return options;
}

std::vector<int32_t> row(const std::vector<int32_t>& ids, int64_t length, int64_t r) {
  return {ids.begin() + r * length, ids.begin() + (r + 1) * length};
}

// The original chunk behind one corrupted row (see span_corruption_test for the same in detail).
std::vector<int32_t> reconstruct(const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets) {
  const auto sentinel = [](int32_t id) { return id >= kVocab - 100; };
  std::vector<int32_t> tokens;
  for (const int32_t id : inputs) {
    if (id == kEos) break;
    if (!sentinel(id)) {
      tokens.push_back(id);
      continue;
    }
    auto at = std::find(targets.begin(), targets.end(), id) + 1;
    for (; *at != kEos && !sentinel(*at); ++at) tokens.push_back(*at);
  }
  return tokens;
}

std::vector<Batch> take(PretrainBatches& stream, int n) {
  std::vector<Batch> batches(static_cast<size_t>(n));
  for (auto& batch : batches) REQUIRE(stream.next(batch));
  return batches;
}

bool same(const Batch& a, const Batch& b) {
  return a.inputs == b.inputs && a.targets == b.targets && a.batch_size == b.batch_size &&
         a.input_length == b.input_length && a.target_length == b.target_length;
}

}  // namespace

TEST_CASE("data positions print and parse", "[batching]") {
  const DataPosition position{42, 3, 17};
  CHECK(position.to_string() == "seed=42 epoch=3 position=17");
  CHECK(DataPosition::parse(position.to_string()) == position);
  for (const char* bad : {"", "seed=1 epoch=2", "seed=1 epoch=2 position=x", "epoch=1 seed=2 position=3",
                          "seed=1 epoch=2 position=3 more", "seed=-1 epoch=2 position=3"})
    CHECK_THROWS_AS(DataPosition::parse(bad), std::invalid_argument);
}

TEST_CASE("pre-training batches: packed chunks, corrupted, padded to fixed shapes", "[batching]") {
  TempDir dir;
  const ShardReader shard(make_shard(dir, 40));
  PretrainOptions options = tiny_options();
  options.order.shuffle = false;
  options.order.repeat = false;
  PretrainBatches stream(shard, options);
  CHECK(stream.raw_length() == 70);
  CHECK(stream.chunks() == (shard.tokens() + 69) / 70);

  int64_t chunk = 0;
  for (Batch batch; stream.next(batch);) {
    CHECK(batch.input_length == 64);
    CHECK(batch.target_length == 16);
    CHECK(batch.inputs.size() == static_cast<size_t>(batch.batch_size * 64));
    CHECK(batch.targets.size() == static_cast<size_t>(batch.batch_size * 16));
    for (int64_t r = 0; r < batch.batch_size; ++r, ++chunk) {
      const auto inputs = row(batch.inputs, 64, r), targets = row(batch.targets, 16, r);
      std::vector<int32_t> expected;
      shard.read_tokens(chunk * 70, std::min(chunk * 70 + 70, shard.tokens()), expected);
      CHECK(reconstruct(inputs, targets) == expected);  // documents run on across chunk boundaries
      // After EOS, only padding.
      const auto eos = std::find(inputs.begin(), inputs.end(), kEos);
      REQUIRE(eos != inputs.end());
      CHECK(std::all_of(eos + 1, inputs.end(), [](int32_t id) { return id == 0; }));
      if (static_cast<int64_t>(expected.size()) == 70) CHECK(eos == inputs.end() - 1);  // a full chunk fills 64
      if (expected.size() >= 2) CHECK(targets.front() == kVocab - 1);  // <extra_id_0>
    }
  }
  CHECK(chunk == stream.chunks());  // a single pass visits every chunk once, the last batch may be short
}

TEST_CASE("pre-training: each epoch is a new seeded permutation of the chunks", "[batching]") {
  TempDir dir;
  const ShardReader shard(make_shard(dir, 40));
  PretrainOptions options = tiny_options();
  options.order.seed = 9;
  ItemOrder order(31, options.order);
  std::vector<std::vector<int64_t>> epochs(3);
  for (auto& epoch_items : epochs)
    for (int64_t i = 0, item, epoch; i < 31; ++i) {
      REQUIRE(order.next(item, epoch));
      epoch_items.push_back(item);
      CHECK(epoch == &epoch_items - epochs.data());
    }
  std::vector<int64_t> sorted = epochs[0];
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(31);
  std::iota(all.begin(), all.end(), 0);
  CHECK(sorted == all);
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[0] != all);

  PretrainBatches a(shard, options), b(shard, options);
  options.order.seed = 10;
  PretrainBatches c(shard, options);
  const auto first = take(a, 4), again = take(b, 4), other = take(c, 4);
  for (int i = 0; i < 4; ++i) CHECK(same(first[i], again[i]));
  CHECK_FALSE(same(first[0], other[0]));
}

TEST_CASE("pre-training resumes exactly from a saved position, across epochs", "[batching]") {
  TempDir dir;
  const ShardReader shard(make_shard(dir, 40));
  const PretrainOptions options = tiny_options();
  PretrainBatches uninterrupted(shard, options);
  REQUIRE(uninterrupted.batches_per_epoch() < 20);  // the runs below cross epoch boundaries
  const auto expected = take(uninterrupted, 25);

  for (const int stop : {1, 5, 11, 17}) {
    PretrainBatches first(shard, options);
    take(first, stop);
    const std::string saved = first.state().to_string();
    PretrainBatches resumed(shard, options);
    resumed.restore(DataPosition::parse(saved));
    const auto rest = take(resumed, 25 - stop);
    for (int i = 0; i < 25 - stop; ++i) CHECK(same(rest[i], expected[stop + i]));
  }
  PretrainBatches other(shard, options);
  CHECK_THROWS_AS(other.restore({options.order.seed + 1, 0, 0}), std::invalid_argument);
  CHECK_THROWS_AS(other.restore({options.order.seed, 0, 1000}), std::invalid_argument);
}

TEST_CASE("ranks split every batch of one process, and resume with another world size", "[batching]") {
  // One process over 3 epochs of 10 items; 3 ranks in step take the same places, interleaved.
  ItemOrder single(10, {.seed = 4});
  std::vector<int64_t> expected(30), expected_epochs(30);
  for (size_t i = 0; i < 30; ++i) REQUIRE(single.next(expected[i], expected_epochs[i]));
  std::vector<ItemOrder> ranks;
  for (int64_t rank = 0; rank < 3; ++rank) ranks.emplace_back(10, OrderOptions{.seed = 4, .rank = rank, .world_size = 3});
  for (size_t i = 0; i < 12; ++i) {
    int64_t item, epoch;
    REQUIRE(ranks[i % 3].next(item, epoch));
    CHECK(item == expected[i]);
    CHECK(epoch == expected_epochs[i]);
  }
  CHECK(ranks[0].state() == ranks[2].state());
  CHECK(ranks[0].state() == DataPosition{4, 1, 2});  // 12 items taken: all of epoch 0, two of epoch 1
  // Resumed by 2 ranks, the stream goes on where the 3 left it.
  for (int64_t rank = 0; rank < 2; ++rank) {
    ItemOrder resumed(10, {.seed = 4, .rank = rank, .world_size = 2});
    resumed.restore(ranks[0].state());
    for (size_t i = 12 + rank; i < 30; i += 2) {
      int64_t item, epoch;
      REQUIRE(resumed.next(item, epoch));
      CHECK(item == expected[i]);
    }
  }

  // A single pass covers every item once.
  std::set<int64_t> seen;
  int64_t total = 0;
  for (int64_t rank = 0; rank < 3; ++rank) {
    ItemOrder order(32, {.seed = 4, .repeat = false, .rank = rank, .world_size = 3});
    for (int64_t item, epoch; order.next(item, epoch); ++total) {
      CHECK(epoch == 0);
      seen.insert(item);
    }
  }
  CHECK(total == 32);
  CHECK(seen.size() == 32);
  CHECK_THROWS_AS(ItemOrder(10, {.rank = 3, .world_size = 3}), std::invalid_argument);
  CHECK_THROWS_AS(ItemOrder(0, {}), std::invalid_argument);  // nothing to repeat

  TempDir dir;
  const ShardReader shard(make_shard(dir, 40));
  PretrainOptions options = tiny_options();
  options.order.world_size = 2;
  PretrainBatches rank0(shard, options);
  options.order.rank = 1;
  PretrainBatches rank1(shard, options);
  CHECK_FALSE(same(take(rank0, 1)[0], take(rank1, 1)[0]));
}

TEST_CASE("pre-training refuses targets too short for the corruption", "[batching]") {
  TempDir dir;
  const ShardReader shard(make_shard(dir, 10));
  PretrainOptions options = tiny_options();
  options.target_length = 13;
  CHECK_THROWS_WITH(PretrainBatches(shard, options), Catch::Matchers::Contains("targets of 14 tokens"));
}

TEST_CASE("fine-tuning batches: truncated, EOS, padded to the longest row", "[batching]") {
  std::vector<Seq2SeqExample> examples;
  for (int i = 0; i < 10; ++i)
    examples.push_back({std::vector<int32_t>(static_cast<size_t>(i + 1), 10 + i), {20 + i}});
  examples[9].inputs.assign(30, 7);  // longer than input_length
  FinetuneOptions options;
  options.batch_size = 4;
  options.input_length = 8;
  options.target_length = 4;
  options.order = {.seed = 1, .shuffle = false, .repeat = false};
  FinetuneBatches stream(examples, options);

  Batch batch;
  REQUIRE(stream.next(batch));  // examples 0..3: inputs of 1..4 tokens + EOS
  CHECK(batch.batch_size == 4);
  CHECK(batch.input_length == 5);
  CHECK(batch.target_length == 2);
  CHECK(row(batch.inputs, 5, 0) == std::vector<int32_t>{10, kEos, 0, 0, 0});
  CHECK(row(batch.inputs, 5, 3) == std::vector<int32_t>{13, 13, 13, 13, kEos});
  CHECK(row(batch.targets, 2, 2) == std::vector<int32_t>{22, kEos});
  REQUIRE(stream.next(batch));
  REQUIRE(stream.next(batch));  // examples 8, 9: the last, short batch
  CHECK(batch.batch_size == 2);
  CHECK(batch.input_length == 8);
  CHECK(row(batch.inputs, 8, 1) == std::vector<int32_t>{7, 7, 7, 7, 7, 7, 7, kEos});
  CHECK_FALSE(stream.next(batch));
}

TEST_CASE("fine-tuning: seeded shuffling per epoch and exact resume", "[batching]") {
  std::vector<Seq2SeqExample> examples;
  for (int i = 0; i < 23; ++i) examples.push_back({{100 + i, 3}, {200 + i}});
  FinetuneOptions options;
  options.batch_size = 5;
  options.order.seed = 3;
  FinetuneBatches uninterrupted(examples, options);
  std::vector<Batch> expected(12);
  for (auto& batch : expected) REQUIRE(uninterrupted.next(batch));

  std::set<int32_t> first_epoch;  // 23 examples, batches of 5: the first four batches are 20 distinct ones
  for (int b = 0; b < 4; ++b)
    for (int64_t r = 0; r < 5; ++r) first_epoch.insert(expected[b].inputs[r * expected[b].input_length]);
  CHECK(first_epoch.size() == 20);

  FinetuneBatches first(examples, options);
  Batch batch;
  for (int i = 0; i < 7; ++i) first.next(batch);
  FinetuneBatches resumed(examples, options);
  resumed.restore(DataPosition::parse(first.state().to_string()));
  for (int i = 7; i < 12; ++i) {
    REQUIRE(resumed.next(batch));
    CHECK(same(batch, expected[i]));
  }
}

TEST_CASE("fine-tuning examples are read back from encoded task shards", "[batching]") {
  TempDir dir;
  const auto prefix = dir.path() / "sst2" / "train";
  ShardWriter inputs(prefix.string() + ".inputs", kVocab), targets(prefix.string() + ".targets", kVocab);
  inputs.add(std::vector<int32_t>{5, 6, 7});
  targets.add(std::vector<int32_t>{8});
  inputs.add(std::vector<int32_t>{9});
  targets.add(std::vector<int32_t>{});
  inputs.finish();
  targets.finish();
  const auto examples = read_examples(prefix);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].inputs == std::vector<int32_t>{5, 6, 7});
  CHECK(examples[0].targets == std::vector<int32_t>{8});
  CHECK(examples[1].targets.empty());
}
