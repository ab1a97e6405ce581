// SentencePiece with T5's ids: seeded line samples, reproducible training, sentinels, encode -> shard -> decode.
#include <catch2/catch.hpp>

#include <fstream>

#include "config/config.h"
#include "core/files.h"
#include "data/batching.h"
#include "data/shards.h"
#include "temp_dir.h"
#include "tokenizer/tokenizer.h"

using namespace convpt::tokenizer;
using convpt::test::TempDir;

namespace {

// A few hundred lines of made-up words: enough for a 200-piece vocabulary, trained in well under a second.
std::string fixture_text() {
  const std::vector<std::string> syllables = {"ka", "ri", "to", "men", "sa", "lo", "ver", "pi", "dun", "el",
                                              "mor", "ta", "qui", "be", "son", "ra", "li", "go", "fen", "ul"};
  convpt::data::Rng rng(11);
  std::string text;
  for (int line = 0; line < 400; ++line) {
    const uint64_t words = 4 + rng.below(12);
    for (uint64_t w = 0; w < words; ++w) {
      text += w ? " " : "";
      for (uint64_t s = 0, n = 1 + rng.below(3); s < n; ++s) text += syllables[rng.below(syllables.size())];
    }
    text += line % 10 == 9 ? ".\n\n" : ".\n";  // empty lines, as between corpus documents
  }
  return text;
}

std::string train(uint64_t seed, int64_t capacity = 300, const std::string& type = "unigram") {
  LineSample sample(capacity, seed);
  sample.add_text(fixture_text());
  return train_sentencepiece(sample.lines(), {.pieces = 200, .model_type = type, .threads = 2, .seed = seed});
}

// A trained fixture model on disk, shared by the tests that only use it.
const std::filesystem::path& model_file() {
  static TempDir dir;
  static const std::filesystem::path path = [] {
    const auto file = dir.path() / "fixture.model";
    convpt::write_file_atomically(file, train(1));
    return file;
  }();
  return path;
}

class VectorReader : public convpt::data::ExampleReader {
 public:
  explicit VectorReader(std::vector<convpt::data::Example> examples) : examples_(std::move(examples)) {}
  bool next(convpt::data::Example& example) override {
    if (next_ == examples_.size()) return false;
    example = examples_[next_++];
    return true;
  }
  int64_t skipped() const override { return 0; }

 private:
  std::vector<convpt::data::Example> examples_;
  size_t next_ = 0;
};

}  // namespace

TEST_CASE("line samples are bounded, seeded and drawn from every non-empty line", "[tokenizer]") {
  LineSample all(10000, 1);
  all.add_text(fixture_text());
  CHECK(all.lines_seen() == 400);
  REQUIRE(all.lines().size() == 400);  // capacity not reached: every line, in order
  CHECK(all.lines().front() != "");

  LineSample a(50, 7), b(50, 7), c(50, 8);
  for (LineSample* s : {&a, &b, &c}) s->add_text(fixture_text());
  CHECK(a.lines().size() == 50);
  CHECK(a.lines() == b.lines());
  CHECK(a.lines() != c.lines());
  int from_second_half = 0;  // the reservoir keeps late lines as likely as early ones
  for (const auto& line : a.lines()) {
    const auto at = std::find(all.lines().begin(), all.lines().end(), line);
    REQUIRE(at != all.lines().end());
    from_second_half += at - all.lines().begin() >= 200;
  }
  CHECK(from_second_half > 10);
  CHECK(from_second_half < 40);
  CHECK_THROWS_AS(LineSample(0, 1), std::invalid_argument);
}

TEST_CASE("the same seed gives a byte-identical model, another seed another one", "[tokenizer]") {
  const std::string first = train(5);
  CHECK(first == train(5));
  CHECK(first != train(6));
  CHECK(train(5, 300, "bpe") == train(5, 300, "bpe"));
}

TEST_CASE("a tokenizer's fingerprint follows its model file's bytes and its sentinels, not its path", "[tokenizer]") {
  TempDir dir;
  const std::string bytes = train(1);
  const auto copy = dir.path() / "copy.model";
  convpt::write_file_atomically(copy, bytes);
  const std::string fingerprint = Tokenizer(model_file(), 100).fingerprint();
  CHECK(fingerprint.starts_with("fnv1a64:"));
  CHECK(fingerprint.ends_with("+100"));
  CHECK(Tokenizer(copy, 100).fingerprint() == fingerprint);
  CHECK(Tokenizer(copy, 99).fingerprint() != fingerprint);
  convpt::write_file_atomically(copy, train(2));  // another vocabulary saved under the same path
  CHECK(Tokenizer(copy, 100).fingerprint() != fingerprint);
}

TEST_CASE("T5's ids: pad 0, eos 1, unk 2, sentinels numbered down from the top", "[tokenizer]") {
  const Tokenizer tokenizer(model_file(), 100);
  CHECK(tokenizer.pieces() == 200);
  CHECK(tokenizer.sentinels() == 100);
  CHECK(tokenizer.vocab_size() == 300);
  CHECK(tokenizer.sentinel(0) == 299);
  CHECK(tokenizer.sentinel(99) == 200);
  CHECK(tokenizer.is_sentinel(200));
  CHECK_FALSE(tokenizer.is_sentinel(199));
  CHECK_THROWS_AS(tokenizer.sentinel(100), std::out_of_range);

  const auto ids = tokenizer.encode("kari toso menpi");
  CHECK_FALSE(ids.empty());
  for (const int32_t id : ids) CHECK((id > kUnkId && id < 200));
  auto with_eos = tokenizer.encode("kari toso menpi", true);
  CHECK(with_eos.back() == kEosId);
  with_eos.pop_back();
  CHECK(with_eos == ids);
  const auto unseen = tokenizer.encode("zzz");  // characters never seen in training
  CHECK(std::find(unseen.begin(), unseen.end(), kUnkId) != unseen.end());
  CHECK(tokenizer.decode(tokenizer.encode("kari toso menpi", true)) == "kari toso menpi");
}

TEST_CASE("sentinels decode as <extra_id_N>", "[tokenizer]") {
  const Tokenizer tokenizer(model_file(), 100);
  std::vector<int32_t> ids = tokenizer.encode("kari to");
  ids.push_back(tokenizer.sentinel(0));
  const auto rest = tokenizer.encode("ul sa");
  ids.insert(ids.end(), rest.begin(), rest.end());
  ids.push_back(tokenizer.sentinel(17));
  CHECK(tokenizer.decode(ids) == "kari to<extra_id_0> ul sa<extra_id_17>");
  CHECK_THROWS_AS(tokenizer.decode(std::vector<int32_t>{300}), std::out_of_range);
}

TEST_CASE("BPE models load with the same conventions", "[tokenizer]") {
  TempDir dir;
  convpt::write_file_atomically(dir.path() / "bpe.model", train(1, 300, "bpe"));
  const Tokenizer tokenizer(dir.path() / "bpe.model", 100);
  CHECK(tokenizer.pieces() == 200);
  CHECK(tokenizer.decode(tokenizer.encode("velo dunel")) == "velo dunel");
}

TEST_CASE("encode -> shard -> read -> decode gives the text back", "[tokenizer][shards]") {
  const Tokenizer tokenizer(model_file(), 100);
  TempDir dir;
  std::vector<std::string> texts;
  for (size_t start = 0, end; (end = fixture_text().find('\n', start)) != std::string::npos; start = end + 1)
    texts.push_back(fixture_text().substr(start, end - start));
  convpt::data::ShardWriter writer(dir.path() / "text", tokenizer.vocab_size());
  for (const auto& text : texts) writer.add(tokenizer.encode(text));
  writer.finish();

  const convpt::data::ShardReader reader(dir.path() / "text");
  REQUIRE(reader.documents() == static_cast<int64_t>(texts.size()));
  for (size_t i = 0; i < texts.size(); ++i)
    CHECK(tokenizer.decode(reader.document(static_cast<int64_t>(i))) == texts[i]);
}

TEST_CASE("examples are tokenised into inputs and label targets", "[tokenizer][batching]") {
  const Tokenizer tokenizer(model_file(), 100);
  VectorReader reader({{"kari to", "positive"}, {"menpi lo sa", "negative"}, {"ul", ""}});
  const auto examples = convpt::data::tokenize_examples(tokenizer, reader);
  REQUIRE(examples.size() == 3);
  CHECK(examples[1].inputs == tokenizer.encode("menpi lo sa"));
  CHECK(examples[0].targets == tokenizer.encode("positive"));
  CHECK(examples[2].targets.empty());
}

TEST_CASE("models that are missing or not T5's are refused", "[tokenizer]") {
  TempDir dir;
  CHECK_THROWS_WITH(Tokenizer(dir.path() / "none.model", 100), Catch::Matchers::Contains("none.model: no such"));
  std::ofstream(dir.path() / "junk.model") << "not a model";
  CHECK_THROWS_WITH(Tokenizer(dir.path() / "junk.model", 100), Catch::Matchers::Contains("junk.model: cannot load"));
}

TEST_CASE("config: vocab_pieces defaults to what fits below the sentinels and is checked", "[tokenizer][config]") {
  TempDir dir;
  const auto load = [&](const std::string& yaml) {
    return convpt::config::load_config(dir.write("exp.yaml", "model:\n  arch: lightconv\n" + yaml));
  };
  CHECK(load("").data.vocab_pieces == 32000);  // 32,128 - 100, as the paper
  CHECK(load("  vocab_size: 8192\n").data.vocab_pieces == 8000);
  CHECK(load("  vocab_size: 8192\ndata:\n  vocab_pieces: 8092\n").data.vocab_pieces == 8092);
  CHECK_THROWS_WITH(load("  vocab_size: 8192\ndata:\n  vocab_pieces: 8093\n"),
                    Catch::Matchers::Contains("exp.yaml:5: key 'data.vocab_pieces'") &&
                        Catch::Matchers::Contains("pieces (8093) + sentinels (100) exceed model.vocab_size (8192)"));
  CHECK_THROWS_WITH(load("data:\n  tokenizer_type: wordpiece\n"), Catch::Matchers::Contains("unigram, bpe"));
  CHECK_THROWS_WITH(load("data:\n  tokenizer_sample_lines: 0\n"), Catch::Matchers::Contains("must be > 0"));
}
