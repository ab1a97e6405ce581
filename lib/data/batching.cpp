#include "data/batching.h"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace convpt::data {
namespace {

// Purposes of keyed random streams, so that no two uses of one seed share numbers.
enum Purpose : uint64_t { kShuffle = 1, kCorruption = 2 };

void append_padded(std::vector<int32_t>& out, std::span<const int32_t> row, int64_t length) {
  out.insert(out.end(), row.begin(), row.end());
  out.insert(out.end(), static_cast<size_t>(length) - row.size(), tokenizer::kPadId);
}

void start_batch(Batch& batch, int64_t input_length, int64_t target_length) {
  batch.inputs.clear();
  batch.targets.clear();
  batch.batch_size = 0;
  batch.input_length = input_length;
  batch.target_length = target_length;
}

}  // namespace

std::string DataPosition::to_string() const {
  return "seed=" + std::to_string(seed) + " epoch=" + std::to_string(epoch) + " position=" + std::to_string(position);
}

DataPosition DataPosition::parse(const std::string& text) {
  std::istringstream in(text);
  DataPosition p;
  std::string seed, epoch, position, rest;
  in >> seed >> epoch >> position;
  const auto value = [&](const std::string& field, const char* name) {
    const std::string prefix = std::string(name) + "=";
    if (field.rfind(prefix, 0) != 0 || field.size() == prefix.size() ||
        field.find_first_not_of("0123456789", prefix.size()) != std::string::npos)
      throw std::invalid_argument("bad data position '" + text + "' (expected 'seed=S epoch=E position=P')");
    return std::stoull(field.substr(prefix.size()));
  };
  p.seed = value(seed, "seed");
  p.epoch = static_cast<int64_t>(value(epoch, "epoch"));
  p.position = static_cast<int64_t>(value(position, "position"));
  if (in >> rest) throw std::invalid_argument("bad data position '" + text + "' (trailing text)");
  return p;
}

ItemOrder::ItemOrder(int64_t items, const OrderOptions& options) : items_(items), options_(options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size)
    throw std::invalid_argument("rank " + std::to_string(options.rank) + " outside world size " +
                                std::to_string(options.world_size));
  if (options.repeat && items < 1) throw std::invalid_argument("no items to repeat");
}

bool ItemOrder::next(int64_t& item, int64_t& epoch) {
  const int64_t place = taken_ + options_.rank;
  if (!options_.repeat && place >= items_) return false;
  taken_ += options_.world_size;
  epoch = place / items_;
  item = place % items_;
  if (!options_.shuffle) return true;
  if (permutation_epoch_ != epoch) {
    permutation_.resize(static_cast<size_t>(items_));
    std::iota(permutation_.begin(), permutation_.end(), int64_t{0});
    Rng::keyed({options_.seed, kShuffle, static_cast<uint64_t>(epoch)}).shuffle(permutation_);
    permutation_epoch_ = epoch;
  }
  item = permutation_[static_cast<size_t>(item)];
  return true;
}

void ItemOrder::restore(const DataPosition& position) {
  if (position.seed != options_.seed)
    throw std::invalid_argument("data position " + position.to_string() + " belongs to another seed than " +
                                std::to_string(options_.seed));
  if (position.epoch < 0 || position.position < 0 || position.position > items_)
    throw std::invalid_argument("data position " + position.to_string() + " is outside an epoch of " +
                                std::to_string(items_) + " items");
  taken_ = position.epoch * items_ + position.position;
}

PretrainBatches::PretrainBatches(const ShardReader& shard, const PretrainOptions& options)
    : shard_(shard),
      options_(options),
      lengths_(compute_input_and_target_lengths(options.input_length, options.corruption)),
      chunks_((shard.tokens() + lengths_.raw_tokens - 1) / lengths_.raw_tokens),
      order_(chunks_, options.order) {
  if (options.target_length < lengths_.targets_length)
    throw std::invalid_argument("span corruption of inputs of " + std::to_string(options.input_length) +
                                " tokens makes targets of " + std::to_string(lengths_.targets_length) +
                                " tokens; target_length is " + std::to_string(options.target_length));
  if (options.batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  if (options.sentinels < 1 || options.sentinels >= shard.vocab_size())
    throw std::invalid_argument("sentinels must be in [1, shard vocabulary size)");
}

bool PretrainBatches::next(Batch& batch) {
  start_batch(batch, options_.input_length, options_.target_length);
  const SentinelRange sentinels{static_cast<int32_t>(shard_.vocab_size() - 1), options_.sentinels, tokenizer::kEosId};
  int64_t chunk, epoch;
  while (batch.batch_size < options_.batch_size && order_.next(chunk, epoch)) {
    tokens_.clear();
    const int64_t raw = lengths_.raw_tokens;
    shard_.read_tokens(chunk * raw, std::min((chunk + 1) * raw, shard_.tokens()), tokens_);
    Rng rng =
        Rng::keyed({options_.order.seed, kCorruption, static_cast<uint64_t>(epoch), static_cast<uint64_t>(chunk)});
    span_corrupt(tokens_, options_.corruption, sentinels, rng, inputs_, targets_);
    append_padded(batch.inputs, inputs_, options_.input_length);  // lengths fit: see compute_input_and_target_lengths
    append_padded(batch.targets, targets_, options_.target_length);
    ++batch.batch_size;
  }
  return batch.batch_size > 0;
}

std::vector<Seq2SeqExample> tokenize_examples(const tokenizer::Tokenizer& tokenizer, ExampleReader& reader) {
  std::vector<Seq2SeqExample> examples;
  for (Example example; reader.next(example);)
    examples.push_back({tokenizer.encode(example.text), tokenizer.encode(example.label)});
  return examples;
}

std::vector<Seq2SeqExample> read_examples(const std::filesystem::path& prefix) {
  const ShardReader inputs(prefix.string() + ".inputs");
  const ShardReader targets(prefix.string() + ".targets");
  if (inputs.documents() != targets.documents())
    throw ShardError(prefix.string() + ": " + std::to_string(inputs.documents()) + " inputs but " +
                     std::to_string(targets.documents()) + " targets");
  std::vector<Seq2SeqExample> examples(static_cast<size_t>(inputs.documents()));
  for (int64_t i = 0; i < inputs.documents(); ++i)
    examples[static_cast<size_t>(i)] = {inputs.document(i), targets.document(i)};
  return examples;
}

FinetuneBatches::FinetuneBatches(std::vector<Seq2SeqExample> examples, const FinetuneOptions& options)
    : examples_(std::move(examples)), options_(options), order_(static_cast<int64_t>(examples_.size()), options.order) {
  if (options.batch_size < 1 || options.input_length < 1 || options.target_length < 1)
    throw std::invalid_argument("batch_size, input_length and target_length must be >= 1");
}

bool FinetuneBatches::next(Batch& batch) {
  // Rows as they go into the batch: truncated to leave room for EOS, then EOS.
  const auto row = [](const std::vector<int32_t>& ids, int64_t length) {
    const auto kept = std::min<int64_t>(static_cast<int64_t>(ids.size()), length - 1);
    std::vector<int32_t> out(ids.begin(), ids.begin() + kept);
    out.push_back(tokenizer::kEosId);
    return out;
  };
  std::vector<std::vector<int32_t>> inputs, targets;
  int64_t item, epoch;
  while (static_cast<int64_t>(inputs.size()) < options_.batch_size && order_.next(item, epoch)) {
    inputs.push_back(row(examples_[static_cast<size_t>(item)].inputs, options_.input_length));
    targets.push_back(row(examples_[static_cast<size_t>(item)].targets, options_.target_length));
  }
  const auto longest = [](const std::vector<std::vector<int32_t>>& rows) {
    size_t length = 0;
    for (const auto& r : rows) length = std::max(length, r.size());
    return static_cast<int64_t>(length);
  };
  start_batch(batch, longest(inputs), longest(targets));
  for (size_t i = 0; i < inputs.size(); ++i) {
    append_padded(batch.inputs, inputs[i], batch.input_length);
    append_padded(batch.targets, targets[i], batch.target_length);
  }
  batch.batch_size = static_cast<int64_t>(inputs.size());
  return batch.batch_size > 0;
}

}  // namespace convpt::data
