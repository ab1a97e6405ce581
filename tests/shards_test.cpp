// Token shards: round trips at both widths, the packed stream, atomic publication, and corrupt files rejected.
#include <catch2/catch.hpp>

#include <fstream>

#include "data/shards.h"
#include "data/span_corruption.h"
#include "temp_dir.h"

using namespace convpt::data;
using convpt::test::TempDir;
using Catch::Matchers::Contains;

namespace {

std::vector<std::vector<int32_t>> random_documents(int64_t vocab_size, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<int32_t>> documents(60);
  for (auto& document : documents) {
    document.resize(rng.below(4) == 0 ? 0 : rng.below(300));  // some empty documents
    for (auto& id : document) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab_size)));
  }
  documents.front() = {0, static_cast<int32_t>(vocab_size - 1)};  // the extreme ids
  return documents;
}

void write_shard(const std::filesystem::path& prefix, const std::vector<std::vector<int32_t>>& documents,
                 int64_t vocab_size) {
  ShardWriter writer(prefix, vocab_size);
  for (const auto& document : documents) writer.add(document);
  writer.finish();
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string open_error(const std::filesystem::path& prefix) {
  try {
    ShardReader reader(prefix);
  } catch (const ShardError& e) {
    return e.what();
  }
  FAIL("expected a ShardError for " << prefix);
  return "";
}

}  // namespace

TEST_CASE("documents round-trip at 16 and 32 bits", "[shards]") {
  TempDir dir;
  for (const int64_t vocab_size : {int64_t{8100}, int64_t{65536}, int64_t{70000}}) {
    INFO("vocab " << vocab_size);
    const auto documents = random_documents(vocab_size, static_cast<uint64_t>(vocab_size));
    const auto prefix = dir.path() / ("v" + std::to_string(vocab_size)) / "train";
    write_shard(prefix, documents, vocab_size);

    const ShardReader reader(prefix);
    REQUIRE(reader.documents() == static_cast<int64_t>(documents.size()));
    CHECK(reader.vocab_size() == vocab_size);
    std::vector<int32_t> stream;
    for (size_t i = 0; i < documents.size(); ++i) {
      CHECK(reader.document(static_cast<int64_t>(i)) == documents[i]);
      CHECK(reader.document_length(static_cast<int64_t>(i)) == static_cast<int64_t>(documents[i].size()));
      stream.insert(stream.end(), documents[i].begin(), documents[i].end());
    }
    CHECK(reader.tokens() == static_cast<int64_t>(stream.size()));
    const size_t width = vocab_size <= 65536 ? 2 : 4;
    CHECK(std::filesystem::file_size(prefix.string() + ".bin") == stream.size() * width);

    std::vector<int32_t> middle = {42};  // read_tokens appends, across document boundaries
    reader.read_tokens(100, 1000, middle);
    CHECK(middle.size() == 901);
    CHECK(std::equal(middle.begin() + 1, middle.end(), stream.begin() + 100));
    CHECK_THROWS_AS(reader.read_tokens(0, reader.tokens() + 1, middle), std::out_of_range);
  }
}

TEST_CASE("an empty shard is valid", "[shards]") {
  TempDir dir;
  write_shard(dir.path() / "empty", {}, 100);
  const ShardReader reader(dir.path() / "empty");
  CHECK(reader.documents() == 0);
  CHECK(reader.tokens() == 0);
}

TEST_CASE("ids outside the vocabulary are refused", "[shards]") {
  TempDir dir;
  ShardWriter writer(dir.path() / "s", 100);
  CHECK_THROWS_AS(writer.add(std::vector<int32_t>{5, 100}), std::out_of_range);
  CHECK_THROWS_AS(writer.add(std::vector<int32_t>{-1}), std::out_of_range);
}

TEST_CASE("nothing is published until finish()", "[shards]") {
  TempDir dir;
  {
    ShardWriter writer(dir.path() / "s", 100);
    writer.add(std::vector<int32_t>{1, 2, 3});
  }  // abandoned
  CHECK(std::filesystem::is_empty(dir.path()));
  CHECK_THAT(open_error(dir.path() / "s"), Contains("s.idx: no such shard index"));
}

TEST_CASE("truncated and corrupt shards are rejected with the file named", "[shards]") {
  TempDir dir;
  const auto prefix = dir.path() / "s";
  write_shard(prefix, random_documents(8100, 1), 8100);
  const std::string index = read_bytes(prefix.string() + ".idx");
  const std::string data = read_bytes(prefix.string() + ".bin");
  const auto restore = [&] {
    write_bytes(prefix.string() + ".idx", index);
    write_bytes(prefix.string() + ".bin", data);
  };

  write_bytes(prefix.string() + ".idx", index.substr(0, index.size() - 8));
  CHECK_THAT(open_error(prefix), Contains("s.idx: the header says 60 documents") && Contains("truncated"));
  write_bytes(prefix.string() + ".idx", index.substr(0, 20));
  CHECK_THAT(open_error(prefix), Contains("truncated header"));
  std::string bad = index;
  bad[0] = 'X';
  write_bytes(prefix.string() + ".idx", bad);
  CHECK_THAT(open_error(prefix), Contains("bad magic"));
  bad = index;
  bad[8] = 9;  // version
  write_bytes(prefix.string() + ".idx", bad);
  CHECK_THAT(open_error(prefix), Contains("unsupported format version 9"));
  bad = index;
  std::fill(bad.begin() + 40 + 8 * 3, bad.begin() + 40 + 8 * 4, '\xff');  // offset[3] beyond offset[4]
  write_bytes(prefix.string() + ".idx", bad);
  CHECK_THAT(open_error(prefix), Contains("offsets decrease"));
  restore();

  write_bytes(prefix.string() + ".bin", data.substr(0, data.size() - 2));
  CHECK_THAT(open_error(prefix), Contains("s.bin: holds") && Contains("truncated"));
  std::filesystem::remove(prefix.string() + ".bin");
  CHECK_THAT(open_error(prefix), Contains("s.bin: cannot open"));
  restore();
  CHECK_NOTHROW(ShardReader(prefix));
}

TEST_CASE("the encoding record keeps each task split's fingerprint; older records have none", "[shards]") {
  TempDir dir;
  const ShardsProvenance written{"tok.model", "fnv1a64:0123456789abcdef+100", "/data", {"pretrain/train",
                                 "tasks/trec/test"}, {{"tasks/trec/test", "fnv1a64:fedcba9876543210"}}};
  write_shards_provenance(dir.path(), written);
  const auto read = read_shards_provenance(dir.path());
  REQUIRE(read);
  CHECK(read->splits == written.splits);
  CHECK(read->fingerprints == written.fingerprints);

  write_bytes(shards_provenance_file(dir.path()),
              R"({"tokenizer": "t", "tokenizer_fingerprint": "f", "data_root": "/d", "splits": ["tasks/a/b"]})");
  const auto older = read_shards_provenance(dir.path());
  REQUIRE(older);
  CHECK(older->covers("tasks/a/b"));
  CHECK(older->fingerprints.empty());
}
