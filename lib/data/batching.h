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

// Where a stream stands. to_string() gives "seed=S epoch=E position=P" (P: items of this rank already taken in
// epoch E), which parse() reads back; checkpoints store that string.
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
  // Rank r of world_size takes the items at places r, r + world_size, ... of each epoch's order. When repeating,
  // every rank takes floor(items / world_size) per epoch, so all ranks see the same number of batches; a single
  // pass covers every item once.
  int64_t rank = 0;
  int64_t world_size = 1;
};

// The order in which one rank visits `items` items across epochs.
class ItemOrder {
 public:
  ItemOrder(int64_t items, const OrderOptions& options);
  // The next item and its epoch; false at the end of a single pass.
  bool next(int64_t& item, int64_t& epoch);
  int64_t items_per_epoch() const { return per_rank_; }  // of this rank
  DataPosition state() const { return {options_.seed, epoch_, position_}; }
  // Throws std::invalid_argument for a position of another seed or beyond the epoch.
  void restore(const DataPosition& position);

 private:
  void start_epoch(int64_t epoch);
  int64_t items_;
  OrderOptions options_;
  int64_t per_rank_;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  std::vector<int64_t> permutation_;  // this epoch's order; empty when not shuffling
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
  int64_t batches_per_epoch() const { return order_.items_per_epoch() / options_.batch_size; }

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
