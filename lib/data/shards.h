#pragma once
// Token shards: documents of token ids in two files, written once and memory-mapped for reading.
//
// <prefix>.bin  every document's ids back to back, little-endian, uint16 when the vocabulary has at most 65,536
//               ids, else uint32. Concatenated, they are the packed token stream of pre-training.
// <prefix>.idx  little-endian:
//                 bytes  0- 7  magic "CVPTSHRD"
//                 bytes  8-11  uint32 format version (1)
//                 bytes 12-15  uint32 bytes per token (2 or 4)
//                 bytes 16-23  uint64 vocabulary size (every id is below it)
//                 bytes 24-31  uint64 document count n
//                 bytes 32-39  uint64 token count t (= .bin size / bytes per token)
//                 then n + 1   uint64 token offsets: document i is tokens [offset[i], offset[i+1]); offset[0] = 0,
//                              offset[n] = t, non-decreasing
// Both files are written to temporaries and renamed into place by finish(), .bin first: an .idx is only ever next
// to the complete .bin it describes.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace convpt::data {

// A corrupt, truncated or inconsistent shard; the message names the file.
struct ShardError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ShardWriter {
 public:
  // Starts <prefix>.bin.tmp; `vocab_size` (pieces + sentinels) picks the token width and bounds every id.
  ShardWriter(std::filesystem::path prefix, int64_t vocab_size);
  ~ShardWriter();  // without finish(), the temporaries are removed and nothing is published
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one document (possibly empty). Throws std::out_of_range for an id outside [0, vocab_size).
  void add(std::span<const int32_t> ids);
  // Flushes, syncs and renames both files into place. No add() after it.
  void finish();

  int64_t documents() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t tokens() const { return static_cast<int64_t>(offsets_.back()); }

 private:
  std::filesystem::path prefix_;
  int64_t vocab_size_;
  uint32_t token_bytes_;
  int fd_ = -1;
  std::vector<uint64_t> offsets_{0};
  std::vector<uint8_t> buffer_;  // encoded ids not yet written
  void flush_buffer();
};

class ShardReader {
 public:
  // Maps <prefix>.bin and checks it against <prefix>.idx; throws ShardError when anything disagrees.
  explicit ShardReader(const std::filesystem::path& prefix);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  int64_t documents() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t tokens() const { return static_cast<int64_t>(offsets_.back()); }
  int64_t vocab_size() const { return vocab_size_; }
  int64_t document_length(int64_t i) const { return static_cast<int64_t>(offsets_.at(i + 1) - offsets_.at(i)); }

  std::vector<int32_t> document(int64_t i) const;
  // Tokens [begin, end) of the whole stream (documents back to back), appended to `out`.
  void read_tokens(int64_t begin, int64_t end, std::vector<int32_t>& out) const;

 private:
  std::filesystem::path prefix_;
  int64_t vocab_size_ = 0;
  uint32_t token_bytes_ = 0;
  std::vector<uint64_t> offsets_;
  const uint8_t* data_ = nullptr;
  size_t mapped_bytes_ = 0;
};

// What a directory of shards (the output of `convpt tokenize encode`) was made from, in <dir>/encoded_with.json:
// readers compare it with their own tokenizer and data root before they trust the ids, and read only the splits it
// lists (shards of an earlier encoding may lie beside them). Encoding removes the file before it writes any shard
// and writes it once all are complete, so a directory without one holds an incomplete encoding (or one from before
// convpt wrote the file).
struct ShardsProvenance {
  std::string tokenizer;              // the model file, as the encoding named it (for messages)
  std::string tokenizer_fingerprint;  // tokenizer::Tokenizer::fingerprint()
  std::string data_root;              // canonical
  std::vector<std::string> splits;    // the shard prefixes this encoding wrote, under the directory: "pretrain/train",
                                      // "tasks/trec/test", ...
  // Task split ("tasks/trec/test") -> data::Task::fingerprint of what was encoded. Absent in records written before
  // convpt kept them, whose task shards are then not trusted.
  std::map<std::string, std::string> fingerprints;
  bool covers(const std::string& split) const;
};

std::filesystem::path shards_provenance_file(const std::filesystem::path& shards_dir);
void write_shards_provenance(const std::filesystem::path& shards_dir, const ShardsProvenance& provenance);
// Empty when the file is absent; throws (naming the file) when it is unreadable or corrupt.
std::optional<ShardsProvenance> read_shards_provenance(const std::filesystem::path& shards_dir);

}  // namespace convpt::data
