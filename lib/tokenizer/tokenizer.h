#pragma once
// SentencePiece vocabulary with T5's conventions: ids pad = 0, eos = 1, unk = 2, no bos; the SentencePiece pieces
// (specials included) take ids [0, pieces) and the sentinels of span corruption the ids above them, numbered from
// the top as T5's extra ids: <extra_id_i> = pieces + sentinels - 1 - i. The paper: 32,000 pieces + 100 sentinels.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/span_corruption.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace convpt::tokenizer {

inline constexpr int32_t kPadId = 0;
inline constexpr int32_t kEosId = 1;
inline constexpr int32_t kUnkId = 2;

// A bounded, seeded sample of a text stream's non-empty lines (reservoir sampling, Vitter's algorithm R), the
// training input of SentencePiece, which treats each line as one sentence. Every line of the stream is equally
// likely to be kept; the sample depends only on the stream and the seed.
class LineSample {
 public:
  LineSample(int64_t capacity, uint64_t seed);
  void add_text(std::string_view text);  // splits on '\n'
  int64_t lines_seen() const { return seen_; }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  data::Rng rng_;
  int64_t capacity_;
  int64_t seen_ = 0;
  std::vector<std::string> lines_;
};

struct TrainOptions {
  int64_t pieces = 32000;              // SentencePiece vocabulary size, pad/eos/unk included
  std::string model_type = "unigram";  // or "bpe"
  int64_t threads = 2;                 // part of the result: unigram training sums per thread
  uint64_t seed = 1;
};

// Trains SentencePiece on `lines` (in this order) and returns the model file's bytes. The same lines and options
// give byte-identical models. Throws std::runtime_error with SentencePiece's message (e.g. too few distinct
// pieces in the sample for the requested vocabulary).
std::string train_sentencepiece(const std::vector<std::string>& lines, const TrainOptions& options);

class Tokenizer {
 public:
  // Loads a model and checks T5's special ids. Throws std::runtime_error naming the file.
  Tokenizer(const std::filesystem::path& model_file, int32_t sentinels);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  int32_t pieces() const { return pieces_; }
  int32_t sentinels() const { return sentinels_; }
  int32_t vocab_size() const { return pieces_ + sentinels_; }  // every id is below it
  int32_t sentinel(int32_t i) const;                           // <extra_id_i>
  bool is_sentinel(int32_t id) const { return id >= pieces_ && id < vocab_size(); }
  // Who made the ids: the FNV-1a 64 hash of the model file's bytes and the sentinel count, e.g.
  // "fnv1a64:0123456789abcdef+100". Shards and checkpoints record it, so that ids made by another vocabulary
  // saved under the same path are refused rather than read as if they were this one's.
  const std::string& fingerprint() const { return fingerprint_; }

  // Text to ids (the text is taken literally: "<extra_id_0>" in it is not a sentinel). Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool add_eos = false) const;
  // Ids to text; sentinels become "<extra_id_N>", pad and eos nothing. Throws std::out_of_range for an id outside
  // the vocabulary.
  std::string decode(std::span<const int32_t> ids) const;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  int32_t pieces_ = 0;
  int32_t sentinels_ = 0;
  std::string fingerprint_;
};

}  // namespace convpt::tokenizer
