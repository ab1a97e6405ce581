#include "data/shards.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/files.h"
#include "core/json.h"
#include "core/text.h"

namespace convpt::data {
namespace fs = std::filesystem;

// The files are little-endian and read and written by plain copies.
static_assert(std::endian::native == std::endian::little, "token shards assume a little-endian host");

namespace {

constexpr char kMagic[8] = {'C', 'V', 'P', 'T', 'S', 'H', 'R', 'D'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 40;

fs::path with_suffix(const fs::path& prefix, const char* suffix) { return prefix.string() + suffix; }

[[noreturn]] void fail_io(const std::string& what, const fs::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

template <class T> void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T> T get(const std::string& in, size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof value);
  return value;
}

}  // namespace

ShardWriter::ShardWriter(fs::path prefix, int64_t vocab_size)
    : prefix_(std::move(prefix)), vocab_size_(vocab_size), token_bytes_(vocab_size <= 65536 ? 2 : 4) {
  if (vocab_size <= 0 || vocab_size > (int64_t{1} << 31))
    throw std::invalid_argument("shard vocabulary size must be in [1, 2^31], got " + std::to_string(vocab_size));
  if (prefix_.has_parent_path()) fs::create_directories(prefix_.parent_path());
  const fs::path temporary = with_suffix(prefix_, ".bin.tmp");
  fd_ = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) fail_io("cannot create", temporary);
}

ShardWriter::~ShardWriter() {
  if (fd_ < 0) return;
  ::close(fd_);
  std::error_code ignored;
  fs::remove(with_suffix(prefix_, ".bin.tmp"), ignored);
}

void ShardWriter::add(std::span<const int32_t> ids) {
  if (fd_ < 0) throw std::logic_error("ShardWriter::add after finish");
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size_)
      throw std::out_of_range("token id " + std::to_string(id) + " outside the shard vocabulary [0, " +
                              std::to_string(vocab_size_) + ")");
    if (token_bytes_ == 2) {
      const auto narrow = static_cast<uint16_t>(id);
      buffer_.insert(buffer_.end(), reinterpret_cast<const uint8_t*>(&narrow),
                     reinterpret_cast<const uint8_t*>(&narrow) + 2);
    } else {
      buffer_.insert(buffer_.end(), reinterpret_cast<const uint8_t*>(&id), reinterpret_cast<const uint8_t*>(&id) + 4);
    }
  }
  offsets_.push_back(offsets_.back() + ids.size());
  if (buffer_.size() >= (size_t{1} << 22)) flush_buffer();
}

void ShardWriter::flush_buffer() {
  for (size_t written = 0; written < buffer_.size();) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0) fail_io("cannot write", with_suffix(prefix_, ".bin.tmp"));
    written += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void ShardWriter::finish() {
  if (fd_ < 0) throw std::logic_error("ShardWriter::finish called twice");
  flush_buffer();
  const fs::path temporary = with_suffix(prefix_, ".bin.tmp");
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail_io("cannot flush", temporary);
  fs::rename(temporary, with_suffix(prefix_, ".bin"));

  std::string index(kMagic, sizeof kMagic);
  put(index, kVersion);
  put(index, token_bytes_);
  put(index, static_cast<uint64_t>(vocab_size_));
  put(index, static_cast<uint64_t>(documents()));
  put(index, static_cast<uint64_t>(tokens()));
  index.append(reinterpret_cast<const char*>(offsets_.data()), offsets_.size() * sizeof(uint64_t));
  write_file_atomically(with_suffix(prefix_, ".idx"), index);
}

ShardReader::ShardReader(const fs::path& prefix) : prefix_(prefix) {
  const fs::path index_path = with_suffix(prefix, ".idx");
  const fs::path data_path = with_suffix(prefix, ".bin");
  const std::optional<std::string> contents = read_file(index_path);
  if (!contents) throw ShardError(index_path.string() + ": no such shard index");
  const std::string& index = *contents;
  const auto corrupt = [&](const std::string& what) { return ShardError(index_path.string() + ": " + what); };

  if (index.size() < kHeaderBytes || std::memcmp(index.data(), kMagic, sizeof kMagic) != 0)
    throw corrupt("not a token shard index (bad magic or truncated header)");
  if (const auto version = get<uint32_t>(index, 8); version != kVersion)
    throw corrupt("unsupported format version " + std::to_string(version));
  token_bytes_ = get<uint32_t>(index, 12);
  vocab_size_ = static_cast<int64_t>(get<uint64_t>(index, 16));
  const auto documents = get<uint64_t>(index, 24);
  const auto tokens = get<uint64_t>(index, 32);
  if (token_bytes_ != 2 && token_bytes_ != 4) throw corrupt("bad token width " + std::to_string(token_bytes_));
  const size_t offset_bytes = index.size() - kHeaderBytes;
  if (offset_bytes % 8 != 0 || offset_bytes / 8 == 0 || offset_bytes / 8 - 1 != documents)
    throw corrupt("the header says " + std::to_string(documents) + " documents, but the file holds " +
                  std::to_string(offset_bytes) + " bytes of offsets (truncated?)");
  offsets_.resize(offset_bytes / 8);
  std::memcpy(offsets_.data(), index.data() + kHeaderBytes, offsets_.size() * sizeof(uint64_t));
  if (offsets_.front() != 0 || offsets_.back() != tokens) throw corrupt("offsets do not span the token count");
  for (size_t i = 1; i < offsets_.size(); ++i)
    if (offsets_[i] < offsets_[i - 1]) throw corrupt("offsets decrease at document " + std::to_string(i - 1));

  const int fd = ::open(data_path.c_str(), O_RDONLY);
  if (fd < 0) throw ShardError(data_path.string() + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  ::fstat(fd, &info);
  mapped_bytes_ = static_cast<size_t>(info.st_size);
  if (mapped_bytes_ % token_bytes_ != 0 || mapped_bytes_ / token_bytes_ != tokens) {
    ::close(fd);
    throw ShardError(data_path.string() + ": holds " + std::to_string(mapped_bytes_) + " bytes, the index says " +
                     std::to_string(tokens) + " tokens of " + std::to_string(token_bytes_) +
                     " bytes (truncated or from another shard?)");
  }
  if (mapped_bytes_ > 0) {
    void* mapped = ::mmap(nullptr, mapped_bytes_, PROT_READ, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) {
      ::close(fd);
      throw ShardError(data_path.string() + ": cannot map: " + std::strerror(errno));
    }
    data_ = static_cast<const uint8_t*>(mapped);
  }
  ::close(fd);  // the mapping stays valid
}

ShardReader::~ShardReader() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
}

std::vector<int32_t> ShardReader::document(int64_t i) const {
  std::vector<int32_t> ids;
  read_tokens(static_cast<int64_t>(offsets_.at(i)), static_cast<int64_t>(offsets_.at(i + 1)), ids);
  return ids;
}

void ShardReader::read_tokens(int64_t begin, int64_t end, std::vector<int32_t>& out) const {
  if (begin < 0 || end < begin || end > tokens())
    throw std::out_of_range("tokens [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside the shard " +
                            prefix_.string() + " of " + std::to_string(tokens()) + " tokens");
  const size_t first = out.size();
  out.resize(first + static_cast<size_t>(end - begin));
  int32_t* target = out.data() + first;
  if (token_bytes_ == 2) {
    const uint8_t* source = data_ + begin * 2;
    for (int64_t i = 0; i < end - begin; ++i) {
      uint16_t id;
      std::memcpy(&id, source + 2 * i, 2);
      target[i] = id;
    }
  } else {
    std::memcpy(target, data_ + begin * 4, static_cast<size_t>(end - begin) * 4);
  }
}

fs::path shards_provenance_file(const fs::path& shards_dir) { return shards_dir / "encoded_with.json"; }

bool ShardsProvenance::covers(const std::string& split) const {
  return std::find(splits.begin(), splits.end(), split) != splits.end();
}

void write_shards_provenance(const fs::path& shards_dir, const ShardsProvenance& p) {
  std::vector<std::string> splits, fingerprints;
  for (const auto& split : p.splits) splits.push_back(json::quote(split));
  for (const auto& [split, fingerprint] : p.fingerprints)
    fingerprints.push_back(json::quote(split) + ": " + json::quote(fingerprint));
  write_file_atomically(shards_provenance_file(shards_dir),
                        "{\"tokenizer\": " + json::quote(p.tokenizer) + ", \"tokenizer_fingerprint\": " +
                            json::quote(p.tokenizer_fingerprint) + ", \"data_root\": " + json::quote(p.data_root) +
                            ", \"splits\": [" + join(splits) + "], \"fingerprints\": {" + join(fingerprints) + "}}\n");
}

std::optional<ShardsProvenance> read_shards_provenance(const fs::path& shards_dir) {
  const fs::path file = shards_provenance_file(shards_dir);
  if (!fs::exists(file)) return std::nullopt;
  try {
    const json::Value value = json::parse_file(file);
    ShardsProvenance p{value.at("tokenizer").as_string(), value.at("tokenizer_fingerprint").as_string(),
                       value.at("data_root").as_string(), {}, {}};
    for (const json::Value& split : value.at("splits").items()) p.splits.push_back(split.as_string());
    if (const json::Value* fingerprints = value.find("fingerprints"))
      for (const auto& [split, fingerprint] : fingerprints->members()) p.fingerprints[split] = fingerprint.as_string();
    return p;
  } catch (const std::invalid_argument& e) {
    throw ShardError(file.string() + ": " + e.what());
  }
}

}  // namespace convpt::data
