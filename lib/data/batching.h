#pragma once
// Batches for training and evaluation, with a restartable position.
//
// Pre-training (PretrainBatches): the token stream of a shard (its documents back to back, as T5 concatenates
// them) is cut into chunks of the raw length that compute_input_and_target_lengths gives (568 tokens for inputs of
// 512); every epoch visits the chunks in a new seeded order, span-corrupts each one and pads inputs and targets to
// fixed lengths. Fine-tuning (FinetuneBatches): (inputs, targets) examples in a seeded order per epoch, truncated,
// EOS appended, padded to the longest row of the batch.
//
// Randomness is keyed, never sequential: the order of epoch e comes from (seed, e) and the corruption of chunk c in
// epoch e from (seed, e, c). A stream restored from state() therefore continues exactly as the uninterrupted one,
// and ranks draw the same order without talking to each other.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/shards.h"
#include "data/span_corruption.h"
#include "data/tasks.h"
#include "tokenizer/tokenizer.h"

namespace convpt::data {

// Row-major [batch_size, length] ids, padded with 0 (T5's pad id).
struct Batch {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
  int64_t batch_size = 0;
  int64_t input_length = 0;
  int64_t target_length = 0;
};

// Where a stream stands. to_string() gives "seed=S epoch=E position=P" (P: items of epoch E already taken by all
// ranks together), which parse() reads back; checkpoints store that string. It does not depend on the number of
// ranks, so a run can resume with another world size.
struct DataPosition {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t position = 0;

  std::string to_string() const;
  static DataPosition parse(const std::string& text);  // throws std::invalid_argument
  bool operator==(const DataPosition&) const = default;
};

struct OrderOptions {
  uint64_t seed = 1;
  bool shuffle = true;  // a new seeded permutation every epoch; false: the stored order
  bool repeat = true;   // endless epochs; false: one pass (evaluation), the last batch may be short
  // Data parallelism: the epochs' orders, back to back, form one stream, and rank r of world_size takes its places
  // r, r + world_size, ... Batches of batch_size / world_size per rank thus make up, together, exactly the batch of
  // batch_size that a single process takes; every item of every epoch is used once. A single pass ends with
  // epoch 0 (ranks may then take one item more or less than each other).
  int64_t rank = 0;
  int64_t world_size = 1;
};

// The order in which one rank visits `items` items across epochs.
class ItemOrder {
 public:
  ItemOrder(int64_t items, const OrderOptions& options);
  // The next item and its epoch; false at the end of a single pass.
  bool next(int64_t& item, int64_t& epoch);
  int64_t items() const { return items_; }
  // The same on every rank while they take items in step (as batches of equal size do).
  DataPosition state() const { return {options_.seed, taken_ / items_, taken_ % items_}; }
  // Throws std::invalid_argument for a position of another seed or beyond the epoch.
  void restore(const DataPosition& position);

 private:
  int64_t items_;
  OrderOptions options_;
  int64_t taken_ = 0;                 // places of the stream taken by all ranks together
  int64_t permutation_epoch_ = -1;    // the epoch whose order `permutation_` holds
  std::vector<int64_t> permutation_;  // empty when not shuffling
};

struct PretrainOptions {
  int64_t batch_size = 128;
  int64_t input_length = 512;
  int64_t target_length = 114;  // at least what compute_input_and_target_lengths gives (std::invalid_argument)
  SpanCorruptionOptions corruption;
  int32_t sentinels = 100;  // the top ids of the shard's vocabulary
  OrderOptions order;
};

class PretrainBatches {
 public:
  // The shard must outlive this stream.
  PretrainBatches(const ShardReader& shard, const PretrainOptions& options);
  // Fills `batch` (always batch_size rows, except the last one of a single pass); false when there is none left.
  bool next(Batch& batch);
  DataPosition state() const { return order_.state(); }
  void restore(const DataPosition& position) { order_.restore(position); }
  int64_t raw_length() const { return lengths_.raw_tokens; }  // tokens per chunk before corruption
  int64_t chunks() const { return chunks_; }          // in the whole shard; the last may be shorter
  int64_t batches_per_epoch() const { return chunks_ / options_.batch_size; }  // batches of one process

 private:
  const ShardReader& shard_;
  PretrainOptions options_;
  CorruptionLengths lengths_;
  int64_t chunks_;
  ItemOrder order_;
  std::vector<int32_t> tokens_, inputs_, targets_;  // scratch, reused across chunks
};

// A fine-tuning example as token ids, without EOS.
struct Seq2SeqExample {
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
};

// The examples of a reader: inputs from the text, targets from the label word.
std::vector<Seq2SeqExample> tokenize_examples(const tokenizer::Tokenizer& tokenizer, ExampleReader& reader);
// The examples `convpt tokenize encode` stored as <prefix>.inputs and <prefix>.targets (aligned documents).
std::vector<Seq2SeqExample> read_examples(const std::filesystem::path& prefix);

struct FinetuneOptions {
  int64_t batch_size = 32;
  int64_t input_length = 512;  // longer inputs are truncated to input_length - 1 tokens, then EOS
  int64_t target_length = 8;   // idem for targets
  OrderOptions order;
};

class FinetuneBatches {
 public:
  FinetuneBatches(std::vector<Seq2SeqExample> examples, const FinetuneOptions& options);
  // Fills `batch`, padded to its longest inputs and targets; false when there is none left.
  bool next(Batch& batch);
  DataPosition state() const { return order_.state(); }
  void restore(const DataPosition& position) { order_.restore(position); }

 private:
  std::vector<Seq2SeqExample> examples_;
  FinetuneOptions options_;
  ItemOrder order_;
};

}  // namespace convpt::data
