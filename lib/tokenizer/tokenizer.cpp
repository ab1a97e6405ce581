#include "tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <stdexcept>

#include "core/files.h"
#include "core/hash.h"

namespace convpt::tokenizer {

LineSample::LineSample(int64_t capacity, uint64_t seed) : rng_(seed), capacity_(capacity) {
  if (capacity < 1) throw std::invalid_argument("a line sample needs a capacity >= 1");
}

void LineSample::add_text(std::string_view text) {
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.empty()) continue;
    if (seen_ < capacity_) {
      lines_.emplace_back(line);
    } else if (const uint64_t slot = rng_.below(static_cast<uint64_t>(seen_) + 1);
               slot < static_cast<uint64_t>(capacity_)) {
      lines_[slot] = line;
    }
    ++seen_;
  }
}

namespace {

// Feeds the sample to SentencePiece from memory: nothing to clean up, and no temporary file name ends up in the
// model's recorded trainer spec (which would make equal trainings differ in bytes).
class LinesIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LinesIterator(const std::vector<std::string>& lines) : lines_(lines) {}
  bool done() const override { return next_ >= lines_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return lines_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& lines_;
  size_t next_ = 0;
};

}  // namespace

std::string train_sentencepiece(const std::vector<std::string>& lines, const TrainOptions& options) {
  if (options.model_type != "unigram" && options.model_type != "bpe")
    throw std::invalid_argument("SentencePiece model type must be unigram or bpe, got " + options.model_type);
  // SentencePiece draws only when it subsamples or shuffles its input, which it does not here (the sample is ours,
  // input_sentence_size 0 takes all of it); seeding it anyway keeps a future default from breaking reproducibility.
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned>(options.seed));
  LinesIterator iterator(lines);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      {{"model_type", options.model_type},
       {"vocab_size", std::to_string(options.pieces)},
       {"num_threads", std::to_string(options.threads)},
       {"input_sentence_size", "0"},
       {"pad_id", std::to_string(kPadId)},
       {"eos_id", std::to_string(kEosId)},
       {"unk_id", std::to_string(kUnkId)},
       {"bos_id", "-1"},
       {"minloglevel", "1"}},  // warnings and errors only
      &iterator, &model);
  if (!status.ok()) throw std::runtime_error("SentencePiece training failed: " + status.ToString());
  return model;
}

Tokenizer::Tokenizer(const std::filesystem::path& model_file, int32_t sentinels)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()), sentinels_(sentinels) {
  if (!std::filesystem::is_regular_file(model_file))
    throw std::runtime_error(model_file.string() + ": no such SentencePiece model (run `convpt tokenize train`)");
  const std::optional<std::string> bytes = read_file(model_file);
  if (!bytes) throw std::runtime_error(model_file.string() + ": cannot open");
  if (const auto status = processor_->LoadFromSerializedProto(*bytes); !status.ok())
    throw std::runtime_error(model_file.string() + ": cannot load SentencePiece model: " + status.ToString());
  if (processor_->pad_id() != kPadId || processor_->eos_id() != kEosId || processor_->unk_id() != kUnkId ||
      processor_->bos_id() != -1)
    throw std::runtime_error(model_file.string() + ": special ids are not T5's (pad 0, eos 1, unk 2, no bos)");
  if (sentinels < 0) throw std::invalid_argument("the number of sentinels must be >= 0");
  pieces_ = processor_->GetPieceSize();
  fingerprint_ = fnv1a64_fingerprint(*bytes) + "+" + std::to_string(sentinels);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

int32_t Tokenizer::sentinel(int32_t i) const {
  if (i < 0 || i >= sentinels_)
    throw std::out_of_range("sentinel " + std::to_string(i) + " outside [0, " + std::to_string(sentinels_) + ")");
  return vocab_size() - 1 - i;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_eos) const {
  std::vector<int32_t> ids;
  if (const auto status = processor_->Encode(text, &ids); !status.ok())
    throw std::runtime_error("SentencePiece encoding failed: " + status.ToString());
  if (add_eos) ids.push_back(kEosId);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  // Decoding pieces rather than ids lets a sentinel stand as one more piece: SentencePiece passes unknown pieces
  // through as text and places the spaces around them as T5 does.
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary [0, " +
                              std::to_string(vocab_size()) + ")");
    pieces.push_back(is_sentinel(id) ? "<extra_id_" + std::to_string(vocab_size() - 1 - id) + ">"
                                     : processor_->IdToPiece(id));
  }
  std::string text;
  if (const auto status = processor_->Decode(pieces, &text); !status.ok())
    throw std::runtime_error("SentencePiece decoding failed: " + status.ToString());
  return text;
}

}  // namespace convpt::tokenizer
