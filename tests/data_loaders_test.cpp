// Dataset loaders and the task registry: the CSV parser, JSON fields and UTF-8 repair on hand-made input; every
// built-in task on the real files (counts and label distributions from ../shared/data/MANIFEST.md); fixtures for
// the aclImdb layout, CivilComments, AG News escapes, gzip, bad rows, empty and missing files, and YAML user tasks.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "config/yaml_tree.h"
#include "core/hash.h"
#include "data/csv.h"
#include "data/loaders.h"
#include "data/tasks.h"
#include "temp_dir.h"

using namespace convpt::data;
using convpt::fnv1a64;
using convpt::fnv1a64_fingerprint;
using convpt::config::ConfigError;
using convpt::test::TempDir;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
const fs::path kData = CONVPT_TEST_DATA_ROOT;
const fs::path kFixtures = fs::path(CONVPT_SOURCE_DIR) / "tests/fixtures/data";

struct Counts {
  int64_t total = 0;
  std::map<std::string, int64_t> labels;
  int64_t skipped = 0;
};

Counts count(const Task& task, const std::string& split, ReadOptions options = {}) {
  Counts counts;
  const auto reader = task.open(split, options);
  for (Example example; reader->next(example);) {
    ++counts.total;
    ++counts.labels[example.label];
  }
  counts.skipped = reader->skipped();
  return counts;
}

std::vector<Example> read_all(const Task& task, const std::string& split, ReadOptions options = {}) {
  std::vector<Example> examples;
  const auto reader = task.open(split, options);
  for (Example example; reader->next(example);) examples.push_back(example);
  return examples;
}

std::vector<std::string> texts(const std::vector<Example>& examples) {
  std::vector<std::string> out;
  for (const auto& example : examples) out.push_back(example.text);
  return out;
}

// Counts of train and dev together: dev is carved out of the train file.
Counts train_and_dev(const Task& task) {
  Counts train = count(task, "train"), dev = count(task, "dev");
  CHECK(dev.total > 0);
  CHECK(dev.total < train.total);
  for (const auto& [label, n] : dev.labels) train.labels[label] += n;
  train.total += dev.total;
  return train;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& file, CsvOptions options = {}) {
  CsvReader reader(file, options);
  std::vector<std::vector<std::string>> records;
  for (std::vector<std::string> fields; reader.next(fields);) records.push_back(fields);
  return records;
}

void write_gz(const fs::path& file, const std::string& contents) {
  fs::create_directories(file.parent_path());
  gzFile out = gzopen(file.c_str(), "wb");
  gzwrite(out, contents.data(), static_cast<unsigned>(contents.size()));
  gzclose(out);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("expected an exception");
  return "";
}
}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The CSV parser

TEST_CASE("CSV: quoted fields with \"\" escapes, delimiters and line breaks inside, CRLF, start lines", "[csv]") {
  TempDir dir;
  const auto file = dir.write("a.csv",
                              "plain,\"with, comma\",\"say \"\"hi\"\"\"\r\n"
                              "\r\n"
                              "x,\"two\r\nlines\",\"\"\n"
                              "\"three\n\nlines\",y,\n"
                              "last,\"q\"\"\",z");
  CsvReader reader(file);
  std::vector<std::string> fields;
  REQUIRE(reader.next(fields));
  CHECK(fields == std::vector<std::string>{"plain", "with, comma", "say \"hi\""});
  CHECK(reader.record_line() == 1);
  REQUIRE(reader.next(fields));  // the empty line 2 is not a record
  CHECK(fields == std::vector<std::string>{"x", "two\nlines", ""});
  CHECK(reader.record_line() == 3);
  REQUIRE(reader.next(fields));
  CHECK(fields == std::vector<std::string>{"three\n\nlines", "y", ""});
  CHECK(reader.record_line() == 5);
  REQUIRE(reader.next(fields));
  CHECK(fields == std::vector<std::string>{"last", "q\"", "z"});
  CHECK(reader.record_line() == 8);
  CHECK_FALSE(reader.next(fields));
}

TEST_CASE("CSV: a quote inside an unquoted field is literal, with quoting off every byte is", "[csv]") {
  TempDir dir;
  CHECK(read_csv(dir.write("a.csv", "5\" disk,b\n")) == std::vector<std::vector<std::string>>{{"5\" disk", "b"}});
  CHECK(read_csv(dir.write("a.tsv", "\"quoted\tstays\"\tx\n"), {'\t', false}) ==
        std::vector<std::vector<std::string>>{{"\"quoted", "stays\"", "x"}});
  CHECK(read_csv(dir.write("bom.csv", "\xEF\xBB\xBFid,text\n")) ==
        std::vector<std::vector<std::string>>{{"id", "text"}});
}

TEST_CASE("CSV: unterminated quote, junk after a closing quote, wrong field counts name the record's line", "[csv]") {
  TempDir dir;
  CHECK_THROWS_WITH(read_csv(dir.write("a.csv", "a,b\nc,\"open\nstill open\nand more\n")),
                    Contains("a.csv:2: unterminated quoted field"));
  CHECK_THROWS_WITH(read_csv(dir.write("b.csv", "a,b\n\"x\"y,z\n")), Contains("b.csv:2: unexpected character 'y'"));

  CsvReader reader(dir.write("c.csv", "a,b\nc\nd,e\n"));
  reader.set_expected_fields(2);
  std::vector<std::string> fields;
  REQUIRE(reader.next(fields));
  CHECK_THROWS_AS(reader.next(fields), MalformedRow);
  REQUIRE(reader.next(fields));  // the bad record was consumed: reading goes on
  CHECK(fields == std::vector<std::string>{"d", "e"});
  CHECK(reader.record_line() == 3);
}

// ---------------------------------------------------------------------------------------------------------------
// JSON fields and UTF-8 repair

TEST_CASE("JSON fields: escapes, unicode with surrogate pairs, lone surrogates, numbers, nested values", "[json]") {
  const auto values = json_fields(
      R"( {"skip": {"a": [1, {"b": "}"}], "c": null},)"
      R"( "text": "q\"\\\/\b\f\n\r\t \u00e9\u20AC \ud83d\ude00 \ud800x \udc00",)"
      R"( "n": -1.5e3, "t": true, "z": null} )",
      {"text", "n", "t", "z", "absent"});
  REQUIRE(values[0]);
  CHECK(*values[0] == "q\"\\/\b\f\n\r\t \xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBDx \xEF\xBF\xBD");
  CHECK(values[1] == std::optional<std::string>("-1.5e3"));
  CHECK(values[2] == std::optional<std::string>("true"));
  CHECK_FALSE(values[3]);
  CHECK_FALSE(values[4]);
  CHECK(json_fields("{}", {"text"})[0] == std::nullopt);

  CHECK_THROWS_WITH(json_fields(R"({"text": "open)", {"text"}), Contains("unterminated string"));
  CHECK_THROWS_WITH(json_fields(R"({"text": "\q"})", {"text"}), Contains("bad escape"));
  CHECK_THROWS_WITH(json_fields(R"({"text": "\u12G4"})", {"text"}), Contains("bad hex digit"));
  CHECK_THROWS_WITH(json_fields(R"({"text": "a"} x)", {"text"}), Contains("text after the value"));
  CHECK_THROWS_WITH(json_fields(R"({"text": ["a"]})", {"text"}), Contains("not a string or number"));
  CHECK_THROWS_WITH(json_fields(R"({"text" "a"})", {"text"}), Contains("expected ':'"));
  CHECK_THROWS_AS(json_fields(R"(["text"])", {"text"}), std::invalid_argument);
}

TEST_CASE("UTF-8 repair: invalid bytes become spaces, valid sequences stay", "[utf8]") {
  const auto repaired = [](std::string s) {
    repair_utf8(s);
    return s;
  };
  CHECK(repaired("sister\xF0" "city") == "sister city");                            // TREC train line 66
  CHECK(repaired("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(repaired("\xC0\xAF") == "  ");                                                 // overlong
  CHECK(repaired("\xED\xA0\x80") == "   ");                                            // a surrogate
  CHECK(repaired("\xF4\x90\x80\x80") == "    ");                                       // above U+10FFFF
  CHECK(repaired("end\xE2\x82") == "end  ");                                           // truncated
  CHECK(repaired("Latin-1 \xE9t\xE9") == "Latin-1  t ");
}

// ---------------------------------------------------------------------------------------------------------------
// Built-in tasks on the real data (MANIFEST.md counts)

TEST_CASE("registry: built-in names, unknown tasks and splits", "[tasks]") {
  CHECK(builtin_task_names() == std::vector<std::string>{"sst2", "trec", "trec_fine", "imdb", "ag_news",
                                                         "sentiment140", "wiki_toxic", "civil_comments"});
  CHECK_THROWS_WITH(find_task("sst3", kData), Contains("unknown task 'sst3'") && Contains("sentiment140"));
  const Task sst2 = find_task("sst2", kData);
  CHECK_THROWS_WITH(sst2.open("validation"), Contains("sst2: unknown split 'validation' (splits: train, dev, test)"));
  for (const auto& name : builtin_task_names()) {
    const Task task = find_task(name, kData);
    CHECK(task.name == name);
    CHECK(task.splits.size() == task.sources.size());
    CHECK(task.label_words.size() >= 2);
    CHECK((task.metric == "accuracy" || task.metric == "f1"));
    CHECK((task.metric == "f1") == (name == "wiki_toxic" || name == "civil_comments"));
  }
}

TEST_CASE("sst2: GLUE TSV train/dev and the CRLF labelled test", "[tasks][real]") {
  const Task task = find_task("sst2", kData);
  CHECK(task.label_words == std::vector<std::string>{"negative", "positive"});
  CHECK(task.splits == std::vector<std::string>{"train", "dev", "test"});
  CHECK_FALSE(task.caveat.empty());
  const Counts train = count(task, "train");
  CHECK(train.total == 67349);
  CHECK(train.labels == std::map<std::string, int64_t>{{"negative", 29780}, {"positive", 37569}});
  CHECK(count(task, "dev").labels == std::map<std::string, int64_t>{{"negative", 428}, {"positive", 444}});
  const auto test = read_all(task, "test");
  CHECK(test.size() == 1821);
  CHECK(std::count_if(test.begin(), test.end(), [](const auto& e) { return e.label == "negative"; }) == 917);
  CHECK(test.front().text == "uneasy mishmash of styles and genres .");  // no CR left from the CRLF line end
}

TEST_CASE("trec and trec_fine: coarse and fine labels, dev carved from train, the 0xF0 byte", "[tasks][real]") {
  const Task trec = find_task("trec", kData);
  CHECK(trec.label_words ==
        std::vector<std::string>{"abbreviation", "entity", "description", "human", "location", "number"});
  const Counts all = train_and_dev(trec);
  CHECK(all.total == 5452);
  CHECK(all.labels == std::map<std::string, int64_t>{{"abbreviation", 86}, {"description", 1162}, {"entity", 1250},
                                                     {"human", 1223}, {"location", 835}, {"number", 896}});
  CHECK(count(trec, "test").labels == std::map<std::string, int64_t>{{"abbreviation", 9}, {"description", 138},
                                                                    {"entity", 94}, {"human", 65},
                                                                    {"location", 81}, {"number", 113}});
  // The carving rule is pinned: these change only if the rule (or the text decoding) does.
  const auto dev = read_all(trec, "dev");
  CHECK(dev.size() == 549);
  CHECK(texts(read_all(trec, "dev")) == texts(dev));
  CHECK(dev.front().text == "How can I find a list of celebrities ' real names ?");

  std::vector<Example> train_66;  // line 66 holds the one non-UTF-8 byte
  for (const auto& e : read_all(trec, "train"))
    if (e.text.starts_with("Which city has the oldest relationship as a sister")) train_66.push_back(e);
  for (const auto& e : dev)
    if (e.text.starts_with("Which city has the oldest relationship as a sister")) train_66.push_back(e);
  REQUIRE(train_66.size() == 1);
  CHECK(train_66[0].text == "Which city has the oldest relationship as a sister city with Los Angeles ?");
  CHECK(train_66[0].label == "location");

  const Task fine = find_task("trec_fine", kData);
  CHECK(fine.label_words.size() == 50);
  CHECK(fine.label_words[2] == "entity animal");
  const Counts fine_all = train_and_dev(fine);
  CHECK(fine_all.total == 5452);
  CHECK(fine_all.labels.size() == 50);
  CHECK(fine_all.labels.at("entity animal") == 112);
  CHECK(fine_all.labels.at("number volsize") == 13);
  CHECK(count(fine, "test").total == 500);
}

TEST_CASE("imdb: the label<TAB>text TSVs", "[tasks][real]") {
  const Task task = find_task("imdb", kData);
  CHECK(task.splits == std::vector<std::string>{"train", "dev", "test", "unsup"});
  const Counts all = train_and_dev(task);
  CHECK(all.total == 25000);
  CHECK(all.labels == std::map<std::string, int64_t>{{"negative", 12500}, {"positive", 12500}});
  CHECK(count(task, "test").labels == std::map<std::string, int64_t>{{"negative", 12500}, {"positive", 12500}});
  CHECK(count(task, "unsup").labels == std::map<std::string, int64_t>{{"", 50000}});
}

TEST_CASE("ag_news: quoted CSV, test 1,900 per class, the 2,000-row train sample", "[tasks][real]") {
  const Task task = find_task("ag_news", kData);
  CHECK(task.label_words == std::vector<std::string>{"world", "sports", "business", "sci/tech"});
  CHECK_THAT(task.caveat, Contains("2,000"));
  const auto test = read_all(task, "test");
  std::map<std::string, int64_t> labels;
  for (const auto& e : test) {
    ++labels[e.label];
    CHECK(e.text.find('\\') == std::string::npos);  // every backslash escape was decoded
  }
  CHECK(test.size() == 7600);
  CHECK(labels == std::map<std::string, int64_t>{{"world", 1900}, {"sports", 1900}, {"business", 1900},
                                                 {"sci/tech", 1900}});
  const Counts all = train_and_dev(task);
  CHECK(all.total == 2000);
  CHECK(all.labels == std::map<std::string, int64_t>{{"world", 477}, {"sports", 338}, {"business", 408},
                                                     {"sci/tech", 777}});
}

TEST_CASE("sentiment140: the 20k sample and the 359 binary test tweets (neutral dropped)", "[tasks][real]") {
  const Task task = find_task("sentiment140", kData);
  CHECK_FALSE(task.caveat.empty());
  const Counts all = train_and_dev(task);
  CHECK(all.total == 20000);
  CHECK(all.labels == std::map<std::string, int64_t>{{"negative", 9999}, {"positive", 10001}});
  const Counts test = count(task, "test");
  CHECK(test.labels == std::map<std::string, int64_t>{{"negative", 177}, {"positive", 182}});
  CHECK(test.skipped == 0);  // the 139 neutral rows are left out on purpose, not as malformed
}

TEST_CASE("wiki_toxic: train/dev/test carved from the RobTest file, the canonical Kaggle head", "[tasks][real]") {
  const Task task = find_task("wiki_toxic", kData);
  CHECK(task.label_words == std::vector<std::string>{"non-toxic", "toxic"});
  CHECK(task.metric == "f1");
  CHECK(task.splits == std::vector<std::string>{"train", "dev", "test", "head267"});
  CHECK_FALSE(task.caveat.empty());
  const auto train = read_all(task, "train"), dev = read_all(task, "dev"), test = read_all(task, "test");
  CHECK(train.size() + dev.size() + test.size() == 12180);
  CHECK(dev.size() > 1000);
  CHECK(test.size() > 1000);
  std::map<std::string, int64_t> labels;
  std::set<std::string> dev_texts;
  for (const auto& e : dev) dev_texts.insert(e.text);
  for (const auto* split : {&train, &dev, &test})
    for (const auto& e : *split) ++labels[e.label];
  CHECK(labels == std::map<std::string, int64_t>{{"non-toxic", 6090}, {"toxic", 6090}});
  for (const auto& e : test) CHECK(dev_texts.count(e.text) == 0);  // disjoint (by construction of the buckets)

  const auto head = read_all(task, "head267");
  CHECK(head.size() == 267);
  CHECK(std::count_if(head.begin(), head.end(), [](const auto& e) { return e.label == "toxic"; }) == 26);
  CHECK(head[0].text.starts_with("Explanation\nWhy the edits made under my username"));  // a multi-line field
}

TEST_CASE("civil_comments: a clear error without its files", "[tasks][real]") {
  const Task task = find_task("civil_comments", kData);
  CHECK_THROWS_AS(task.open("train"), DataError);
  CHECK_THROWS_WITH(task.open("train"), Contains("civil_comments/train.csv: no such file") &&
                                            Contains("civil_comments/train.csv.gz") &&
                                            Contains("not in the shipped data"));
}

TEST_CASE("pre-training corpora: C4 JSONL and Wikipedia plain text", "[corpus][real]") {
  const auto c4 = open_text_corpus(kData / "pretrain/c4_en.train00000.first1000.jsonl.gz");
  Example doc;
  REQUIRE(c4->next(doc));
  CHECK(doc.text.starts_with("Beginners BBQ Class Taking Place in Missoula!\n"));
  CHECK(doc.label.empty());
  int64_t docs = 1;
  while (c4->next(doc)) ++docs;
  CHECK(docs == 1000);

  const auto count_docs = [](const fs::path& file) {
    const auto reader = open_text_corpus(file);
    int64_t n = 0;
    for (Example e; reader->next(e);) ++n;
    return n;
  };
  CHECK(count_docs(kData / "pretrain/wiki_en.valid.txt.gz") == 382);
  CHECK(count_docs(kData / "pretrain/wiki_en.train.txt.gz") == 11454);
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

TEST_CASE("imdb: the aclImdb directory layout, in class then numeric id order", "[tasks][fixture]") {
  const Task task = find_task("imdb", kFixtures);
  std::map<std::string, std::string> train;  // text -> label, over train and dev
  for (const auto* split : {"train", "dev"})
    for (const auto& e : read_all(task, split)) train[e.text] = e.label;
  CHECK(train == std::map<std::string, std::string>{{"Bad. Really bad.", "negative"},
                                                    {"Awful film.", "negative"},
                                                    {"Worst film.", "negative"},
                                                    {"Great<br /><br />fun.", "positive"},
                                                    {"Good.", "positive"}});
  CHECK(texts(read_all(task, "test")) == std::vector<std::string>{"Dull.", "Lovely."});
  const auto unsup = read_all(task, "unsup");
  CHECK(texts(unsup) == std::vector<std::string>{"Unlabelled one.", "Unlabelled two.", "Unlabelled ten."});
  CHECK(unsup[0].label.empty());

  TempDir dir;  // a file that does not follow {id}_{rating}.txt
  fs::copy(kFixtures / "imdb", dir.path() / "imdb", fs::copy_options::recursive);
  dir.write("imdb/aclImdb/test/pos/notes.md", "not a review");
  const Task broken = find_task("imdb", dir.path());
  CHECK_THROWS_WITH(read_all(broken, "test"), Contains("notes.md: expected a file named {id}_{rating}.txt"));
  CHECK(count(broken, "test", {.skip_malformed = true}).skipped == 1);

  fs::remove_all(dir.path() / "imdb/aclImdb/test/pos");  // a class directory with nothing in it
  fs::create_directory(dir.path() / "imdb/aclImdb/test/pos");
  CHECK_THROWS_WITH(broken.open("test"), Contains("aclImdb/test/pos: empty directory"));
}

TEST_CASE("civil_comments: toxicity >= 0.5 is toxic, on a fixture", "[tasks][fixture]") {
  const Task task = find_task("civil_comments", kFixtures);
  const auto train = read_all(task, "train");
  REQUIRE(train.size() == 4);
  CHECK(train[1].label == "toxic");
  CHECK(train[2].text == "Borderline \"jerk\"\non two lines");
  CHECK(train[2].label == "toxic");  // exactly 0.5
  CHECK(train[3].label == "non-toxic");  // 0.4999
  CHECK(count(task, "dev").labels == std::map<std::string, int64_t>{{"non-toxic", 1}});
  CHECK(count(task, "test").labels == std::map<std::string, int64_t>{{"non-toxic", 1}, {"toxic", 1}});

  TempDir dir;
  dir.write("civil_comments/train.csv", "comment_text,toxicity\nok,0.1\nbad,high\n");
  CHECK_THROWS_WITH(read_all(find_task("civil_comments", dir.path()), "train"),
                    Contains("train.csv:3: bad score 'high'"));
  for (const std::string score : {"nan", "inf", "-inf", "1.5", "-0.1", "1e400"}) {
    dir.write("civil_comments/train.csv", "comment_text,toxicity\nok,1\nbad," + score + "\n");
    CHECK_THROWS_WITH(read_all(find_task("civil_comments", dir.path()), "train"),
                      Contains("train.csv:3: bad score '" + score + "' (expected a number in [0, 1])"));
  }
  dir.write("civil_comments/dev.csv", "text,score\nok,0.1\n");
  CHECK_THROWS_WITH(find_task("civil_comments", dir.path()).open("dev"),
                    Contains("dev.csv:1: no column 'comment_text' in the header (text, score)"));
}

TEST_CASE("ag_news: backslash breaks, escaped dollars, \"\" quotes, gzip", "[tasks][fixture]") {
  TempDir dir;
  dir.write("ag_news/train.head2000.csv", "\"3\",\"Title\",\"one\\two\"\n");
  write_gz(dir.path() / "ag_news/test.csv.gz",
           "\"4\",\"Blog: \"\"Java\"\"\",\"\\\\Java developers\\often load\\\\I think so.\"\n"
           "\"3\",\"Deal\",\"costs US\\$5 billion\\\\$6 next year\\\"\n");
  const auto test = read_all(find_task("ag_news", dir.path()), "test");
  REQUIRE(test.size() == 2);
  CHECK(test[0].text == "Blog: \"Java\" Java developers often load I think so.");
  CHECK(test[0].label == "sci/tech");
  CHECK(test[1].text == "Deal costs US$5 billion $6 next year");
  CHECK(test[1].label == "business");
}

TEST_CASE("trec: invalid UTF-8 bytes become spaces, a byte order mark goes, bad lines name their line",
          "[tasks][fixture]") {
  TempDir dir;
  dir.write("trec/TREC_10.label", "LOC:city Which sister\xF0" "city ?\nHUM:ind Who \xE9t\xE9 ?\nNUM:date When ?\n");
  const auto test = read_all(find_task("trec", dir.path()), "test");
  REQUIRE(test.size() == 3);
  CHECK(test[0].text == "Which sister city ?");
  CHECK(test[1].text == "Who  t  ?");
  CHECK(test[2].label == "number");

  dir.write("trec/TREC_10.label", "\xEF\xBB\xBFNUM:date When ?\n");  // a byte order mark, as a Windows editor saves
  CHECK(read_all(find_task("trec", dir.path()), "test")[0].label == "number");

  dir.write("trec/TREC_10.label", "LOC:city Where ?\nno label here\nXYZ:abc What ?\nNUM:date When ?\n");
  const Task trec = find_task("trec", dir.path());
  CHECK_THROWS_WITH(read_all(trec, "test"), Contains("TREC_10.label:2: expected 'COARSE:fine question'"));
  const Counts skipped = count(trec, "test", {.skip_malformed = true});
  CHECK(skipped.total == 2);
  CHECK(skipped.skipped == 2);
  CHECK_THROWS_WITH(read_all(find_task("trec_fine", dir.path()), "test", {}), Contains(":2: expected"));
}

TEST_CASE("bad rows: the error names file and line, skip_malformed counts them and goes on", "[tasks][fixture]") {
  TempDir dir;
  write_gz(dir.path() / "sst2/train.tsv.gz",
           "sentence\tlabel\ngood\t1\nbad label\t7\nno tab here\nfine\t0\n\"open quote\t1\n");
  const Task task = find_task("sst2", dir.path());
  CHECK_THROWS_WITH(read_all(task, "train"), Contains("train.tsv.gz:3: bad label '7' (expected '0', '1')"));
  const Counts counts = count(task, "train", {.skip_malformed = true});
  CHECK(counts.total == 3);  // quoting is off in GLUE TSV, so the lone quote is text
  CHECK(counts.skipped == 2);

  dir.write("sentiment140/testdata.manual.2009.06.14.csv",
            "\"4\",\"1\",\"d\",\"q\",\"u\",\"nice\"\n"
            "\"0\",\"2\",\"d\",\"q\",\"u\"\n"
            "\"0\",\"3\",\"d\",\"q\",\"u\",\"bad\"\n"
            "\"0\",\"4\",\"d\",\"q\",\"u\",\"never closed\n\"4\",\"5\",\"d\",\"q\",\"u\",\"lost\"\n");
  const Task s140 = find_task("sentiment140", dir.path());
  CHECK_THROWS_WITH(read_all(s140, "test"), Contains("testdata.manual.2009.06.14.csv:2: expected 6 fields, found 5"));
  const auto reader = s140.open("test", {.skip_malformed = true});
  Example e;
  CHECK(reader->next(e));
  CHECK(reader->next(e));
  CHECK(e.text == "bad");
  CHECK_FALSE(reader->next(e));  // the unterminated quote swallows the rest of the file: one more bad row
  CHECK(reader->skipped() == 2);

  dir.write("wiki_toxic/jigsaw2018_train.head267.csv",
            "\"id\",\"comment_text\",\"toxic\"\n\"1\",\"x\",\"1\",\"0\"\n\"2\",\"y\",\"0\"\n");
  const auto head = find_task("wiki_toxic", dir.path()).open("head267");  // a bad first row is reported by next()
  CHECK_THROWS_WITH(head->next(e), Contains("head267.csv:2: expected 3 fields, found 4"));
  REQUIRE(head->next(e));
  CHECK(e.text == "y");
  CHECK_FALSE(head->next(e));
}

TEST_CASE("empty and missing files are clear errors", "[tasks][fixture]") {
  TempDir dir;
  const Task sst2 = find_task("sst2", dir.path());
  const auto absent = [&](const std::string& split) {  // MissingData: `tokenize encode` may skip the split
    try {
      sst2.open(split);
    } catch (const MissingData&) {
      return true;
    } catch (const DataError&) {
    }
    return false;
  };
  CHECK_THROWS_WITH(sst2.open("dev"), Contains("sst2/dev.tsv: no such file"));
  CHECK(absent("dev"));
  dir.write("sst2/dev.tsv", "");
  CHECK_THROWS_WITH(sst2.open("dev"), Contains("sst2/dev.tsv: empty file"));
  CHECK_FALSE(absent("dev"));
  dir.write("sst2/dev.tsv", "sentence\tlabel\n");  // a header and no rows
  CHECK_THROWS_WITH(sst2.open("dev"), Contains("sst2/dev.tsv: empty file"));
  write_gz(dir.path() / "sst2/train.tsv.gz", "");
  CHECK_THROWS_WITH(sst2.open("train"), Contains("train.tsv.gz: empty file"));
  dir.write("empty.txt", "\n\n");
  CHECK_THROWS_WITH(open_text_corpus(dir.path() / "empty.txt"), Contains("empty.txt: empty file"));
  CHECK_THROWS_WITH(open_text_corpus(dir.path() / "none.jsonl"), Contains("none.jsonl: no such file"));
}

TEST_CASE("a split left without examples is an error naming task and split", "[tasks][fixture]") {
  TempDir dir;
  // No text of the file hashes into dev's bucket ("x": 1, "a": 6), or every one does ("y": 0).
  dir.write("t/train.tsv", "text\tlabel\nx\t1\na\t0\n");
  dir.write("t/only_dev.tsv", "text\tlabel\ny\t1\n");
  const auto yaml = dir.write("t/carved.yaml", "format: tsv\ntext_column: text\nlabel_column: label\n"
                                                "label_words: {\"0\": no, \"1\": yes}\nsplits: {train: train.tsv}\n");
  const Task carved = find_task(yaml.string(), dir.path());
  CHECK(count(carved, "train").total == 2);
  CHECK_THROWS_WITH(read_all(carved, "dev"),
                    Contains("t/train.tsv: carved/dev has no examples (2 rows belong to other splits"));
  dir.write("t/carved.yaml", "format: tsv\ntext_column: text\nlabel_column: label\n"
                             "label_words: {\"0\": no, \"1\": yes}\nsplits: {train: only_dev.tsv}\n");
  CHECK_THROWS_WITH(read_all(find_task(yaml.string(), dir.path()), "train"), Contains("carved/train has no examples"));

  // Only neutral tweets: all dropped on purpose. Only malformed rows, skipped.
  dir.write("sentiment140/testdata.manual.2009.06.14.csv", "\"2\",\"1\",\"d\",\"q\",\"u\",\"meh\"\n");
  CHECK_THROWS_WITH(read_all(find_task("sentiment140", dir.path()), "test"),
                    Contains("sentiment140/test has no examples (1 rows belong to other splits or have a label left out)"));
  dir.write("sst2/dev.tsv", "sentence\tlabel\nx\t7\n");
  CHECK_THROWS_WITH(read_all(find_task("sst2", dir.path()), "dev", {.skip_malformed = true}),
                    Contains("sst2/dev has no examples (1 malformed)"));
}

TEST_CASE("text corpora: documents split at blank lines, JSONL errors name the line", "[corpus][fixture]") {
  TempDir dir;
  const auto plain = open_text_corpus(dir.write("c.txt", "\xEF\xBB\xBF\n\nTitle\nPara one.\n\n \n\nSecond\r\nPara.\n"));
  Example doc;
  REQUIRE(plain->next(doc));
  CHECK(doc.text == "Title\nPara one.");
  REQUIRE(plain->next(doc));
  CHECK(doc.text == "Second\nPara.");
  CHECK_FALSE(plain->next(doc));

  write_gz(dir.path() / "c.jsonl.gz",
           "{\"text\": \"a\\u00e9\"}\n\n{\"url\": \"x\"}\n{\"text\": 3\n{\"text\": \"b\"}\n");
  const auto jsonl = open_text_corpus(dir.path() / "c.jsonl.gz");
  REQUIRE(jsonl->next(doc));
  CHECK(doc.text == "a\xC3\xA9");
  CHECK_THROWS_WITH(jsonl->next(doc), Contains("c.jsonl.gz:3: no \"text\" field"));
  CHECK_THROWS_WITH(jsonl->next(doc), Contains("c.jsonl.gz:4: invalid JSON: expected ',' or '}'"));
  REQUIRE(jsonl->next(doc));
  CHECK(doc.text == "b");

  const auto skipping = open_text_corpus(dir.path() / "c.jsonl.gz", {.skip_malformed = true});
  int64_t docs = 0;
  while (skipping->next(doc)) ++docs;
  CHECK(docs == 2);
  CHECK(skipping->skipped() == 2);
}

// ---------------------------------------------------------------------------------------------------------------
// User tasks from YAML

TEST_CASE("user task: TSV with header and label words, dev carved from train", "[tasks][yaml]") {
  const Task task = find_task((kFixtures / "user_tasks/glue_like.yaml").string(), kFixtures);
  CHECK(task.name == "my_sentiment");
  CHECK(task.label_words == std::vector<std::string>{"bad", "good"});
  CHECK(task.metric == "f1");
  CHECK(task.splits == std::vector<std::string>{"train", "dev", "test"});
  std::multiset<std::string> train;
  for (const auto* split : {"train", "dev"})
    for (const auto& e : read_all(task, split)) train.insert(e.label + ":" + e.text);
  CHECK(train == std::multiset<std::string>{"good:the film is \"great\"", "bad:boring , slow", "good:a delight",
                                            "bad:not for me", "bad:a mess"});
  CHECK(count(task, "test").labels == std::map<std::string, int64_t>{{"bad", 1}, {"good", 1}});
}

TEST_CASE("user task: headerless CSV by column index, label words from the data in numeric order", "[tasks][yaml]") {
  const Task task = find_task((kFixtures / "user_tasks/headerless.yaml").string(), kFixtures);
  CHECK(task.name == "headerless");
  CHECK(task.label_words == std::vector<std::string>{"1", "2", "10"});
  CHECK(task.metric == "accuracy");
  const auto train = read_all(task, "train");
  REQUIRE(train.size() == 4);
  CHECK(train[0].text == "ten, as a word");
  CHECK(train[2].text == "one \"1\"");
  CHECK(count(task, "dev").total == 1);
  CHECK(count(task, "test").labels == std::map<std::string, int64_t>{{"10", 1}, {"2", 1}});
}

TEST_CASE("user task: JSONL fields, label words sorted, files found under the data root", "[tasks][yaml]") {
  const Task task = find_task((kFixtures / "user_tasks/jsonl.yaml").string(), kFixtures);
  CHECK(task.name == "topics");
  CHECK(task.caveat == "a hand-written fixture");
  CHECK(task.label_words == std::vector<std::string>{"politics", "sport"});
  CHECK(task.splits == std::vector<std::string>{"train", "dev"});
  const auto train = read_all(task, "train");
  REQUIRE(train.size() == 3);
  CHECK(train[1].text == "The vote is on Tuesday\nand \"close\"");
  CHECK(train[2].text == "Caf\xC3\xA9 tax \xF0\x9F\x98\x80");

  TempDir dir;  // the YAML in one place, the data under the data root
  dir.write("root/mine/train.tsv", "text\tlabel\nx\ta\ny\tb\n");
  const auto yaml = dir.write("tasks/mine.yaml", "format: tsv\ntext_column: text\nlabel_column: label\n"
                                                 "splits: {test: mine/train.tsv}\n");
  const Task mine = find_task(yaml.string(), dir.path() / "root");
  CHECK(mine.splits == std::vector<std::string>{"test"});
  CHECK(count(mine, "test").total == 2);
}

TEST_CASE("user task: bad task files name file, line and key", "[tasks][yaml]") {
  TempDir dir;
  dir.write("t.tsv", "text\tlabel\nx\t1\n");
  const auto error = [&](const std::string& yaml) {
    const auto file = dir.write("task.yaml", yaml);
    return error_of([&] { find_task(file.string(), dir.path()); });
  };
  const std::string good = "format: tsv\ntext_column: text\nlabel_column: label\nsplits: {train: t.tsv}\n";
  CHECK_THAT(error(good + "lable_words: {a: b}\n"), Contains("task.yaml:5: key 'lable_words': unknown key"));
  CHECK_THAT(error("format: xml\n" + good.substr(good.find('\n') + 1)),
             Contains("task.yaml:1: key 'format': 'xml' is not one of: tsv, csv, jsonl"));
  CHECK_THAT(error("format: tsv\ntext_column: text\nsplits: {train: t.tsv}\n"),
             Contains("key 'label_column': required key is missing"));
  CHECK_THAT(error("format: tsv\ntext_column: text\nlabel_column: label\nsplits:\n  train: t.tsv\n  tset: t.tsv\n"),
             Contains("task.yaml:6: key 'splits.tset': unknown split"));
  CHECK_THAT(error(good + "metric: f1\nlabel_words: {a: x, b: y, c: z}\n"), Contains("key 'metric': f1 needs"));
  CHECK_THAT(error("format: tsv\nheader: false\ntext_column: text\nlabel_column: 1\nsplits: {train: t.tsv}\n"),
             Contains("key 'text_column': a column name needs header: true"));
  CHECK_THROWS_AS(find_task((dir.path() / "absent.yaml").string(), dir.path()), ConfigError);

  // A label outside label_words is a bad row of the data, not of the task file.
  const auto file = dir.write("task.yaml", good + "label_words: {\"0\": no}\n");
  CHECK_THROWS_WITH(read_all(find_task(file.string(), dir.path()), "train"), Contains("t.tsv:2: bad label '1'"));
}

TEST_CASE("FNV-1a 64: the published test vectors, and a hash continued chunk by chunk is the whole's", "[tasks]") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
  CHECK(fnv1a64("bar", fnv1a64("foo")) == fnv1a64("foobar"));
  CHECK(fnv1a64_fingerprint("foobar") == "fnv1a64:85944171f73967e8");
}

TEST_CASE("task fingerprints: the definition and the files' path, size and contents, not the task's name", "[tasks]") {
  TempDir dir;
  const auto fingerprint = [&](const std::string& yaml, const std::string& split) {
    return find_task(dir.write("t/task.yaml", yaml).string(), dir.path()).fingerprint(split);
  };
  dir.write("t/a.tsv", "text\tlabel\nx\t1\ny\t0\n");
  dir.write("t/b.tsv", "text\tlabel\nz\t1\nw\t0\n");
  const std::string task = "name: sst2\nformat: tsv\ntext_column: text\nlabel_column: label\n";
  const std::string a = fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "train");
  CHECK(a.starts_with("fnv1a64:"));
  CHECK(fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "train") == a);
  CHECK(fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "dev") != a);  // other buckets of the file
  CHECK(fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "test") != a);  // all of it
  CHECK(fingerprint(task + "splits: {train: b.tsv, test: a.tsv}\n", "train") != a);  // repointed
  CHECK(fingerprint(task + "label_words: {\"0\": no, \"1\": yes}\nsplits: {train: a.tsv}\n", "train") != a);
  CHECK(fingerprint("name: other\n" + task.substr(task.find('\n') + 1) + "splits: {train: a.tsv}\n", "train") == a);

  // A fresh copy of the same bytes (a new time) is the same data; an edit that keeps size and time is not. The
  // file is longer than the 1 MiB the hash reads at a time, and the edit lies past the first chunk.
  const fs::path file = dir.path() / "t/a.tsv";
  std::string rows = "text\tlabel\n";
  while (rows.size() < (3u << 19)) rows += "x\t1\ny\t0\n";
  dir.write("t/a.tsv", rows);
  const auto time = fs::last_write_time(file);
  const std::string big = fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "train");
  fs::last_write_time(file, time + std::chrono::hours(1));
  CHECK(fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "train") == big);
  rows[rows.size() - 2] = '1';
  dir.write("t/a.tsv", rows);
  fs::last_write_time(file, time);
  CHECK(fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "train") != big);
  std::ofstream(file, std::ios::app) << "v\t1\n";
  CHECK(fingerprint(task + "splits: {train: a.tsv, test: a.tsv}\n", "train") != big);

  // A user task named like a built-in has other data than the built-in, unless it reads the same file the same way.
  dir.write("sst2/dev.tsv", "sentence\tlabel\nx\t1\n");
  dir.write("t/mine.tsv", "sentence\tlabel\nx\t1\n");
  const std::string sst2 = "name: sst2\nformat: tsv\ntext_column: sentence\nlabel_column: label\n"
                           "label_words: {\"0\": negative, \"1\": positive}\n";
  CHECK(fingerprint(sst2 + "splits: {dev: mine.tsv}\n", "dev") != find_task("sst2", dir.path()).fingerprint("dev"));
  CHECK(fingerprint(sst2 + "splits: {dev: ../sst2/dev.tsv}\n", "dev") ==
        find_task("sst2", dir.path()).fingerprint("dev"));
  CHECK_THROWS_WITH(find_task("sst2", dir.path()).fingerprint("test"), Contains("test_labeled.tsv: no such file"));

  // An aclImdb directory: a review added changes it.
  fs::copy(kFixtures / "imdb", dir.path() / "imdb", fs::copy_options::recursive);
  const std::string imdb = find_task("imdb", dir.path()).fingerprint("test");
  dir.write("imdb/aclImdb/test/pos/9_9.txt", "Fine.");
  CHECK(find_task("imdb", dir.path()).fingerprint("test") != imdb);
}

// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("data root: command line, then $CONVPT_DATA_ROOT, then the config", "[tasks]") {
  TempDir dir;
  const std::string a = dir.write("a/x", "").parent_path().string(), b = dir.write("b/x", "").parent_path().string();
  const char* saved = std::getenv("CONVPT_DATA_ROOT");
  const std::string saved_value = saved ? saved : "";
  ::unsetenv("CONVPT_DATA_ROOT");
  CHECK(resolve_data_root("", a) == a);
  CHECK_THROWS_WITH(resolve_data_root("", ""), Contains("no data root"));
  ::setenv("CONVPT_DATA_ROOT", b.c_str(), 1);
  CHECK(resolve_data_root("", a) == b);
  CHECK(resolve_data_root(a, "") == a);
  CHECK_THROWS_WITH(resolve_data_root((dir.path() / "none").string(), ""),
                    Contains("(from the command line) is not a directory"));
  if (saved) ::setenv("CONVPT_DATA_ROOT", saved_value.c_str(), 1);
  else ::unsetenv("CONVPT_DATA_ROOT");
}
