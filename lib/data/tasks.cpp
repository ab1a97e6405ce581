#include "data/tasks.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <set>
#include <stdexcept>

#include "config/yaml_tree.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/text.h"
#include "data/loaders.h"

namespace convpt::data {
namespace fs = std::filesystem;

// How raw labels become label words.
struct LabelRule {
  std::vector<std::pair<std::string, std::string>> words = {};  // raw label -> label word ("" = unlabelled)
  std::vector<std::string> dropped = {};  // raw labels left out on purpose (not malformed)
  // Set for scores (CivilComments toxicity): score >= threshold -> label_words[1], else label_words[0].
  std::optional<double> threshold = {};
};

// One way a split may be stored: a path under the data root (or absolute) and its format.
struct Layout {
  std::string path;
  Format format;
};

struct Task::Source {
  std::vector<Layout> layouts;  // the first that exists is read (IMDb: the aclImdb directory, else the TSV)
  LabelRule labels;
  unsigned buckets = 0;    // carving: the hash buckets this split keeps (see bucket_of)
  std::string if_missing;  // appended to the "no such file" message
};

namespace {

// Carving dev (and, for wiki_toxic, test) out of one file: an example's bucket is the FNV-1a hash of its text
// (after decoding) mod 10. Bucket 0 is dev, bucket 1 wiki_toxic's test. Hashing the text rather than the row index
// keeps the split stable under reordering and skipped rows, and puts duplicate texts on the same side.
constexpr unsigned kBuckets = 10;
constexpr unsigned kAllBuckets = (1u << kBuckets) - 1;
constexpr unsigned kDevBucket = 1u << 0;
constexpr unsigned kTestBucket = 1u << 1;

unsigned bucket_of(std::string_view text) { return static_cast<unsigned>(fnv1a64(text) % kBuckets); }

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool is_integer(const std::string& s) {
  long long value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  return error == std::errc() && end == s.data() + s.size();
}

class TaskReader final : public ExampleReader {
 public:
  // `name` names the examples in messages ("trec/dev").
  TaskReader(std::string name, std::unique_ptr<RowReader> rows, std::shared_ptr<const Task::Source> source,
             std::vector<std::string> label_words, const ReadOptions& options)
      : name_(std::move(name)), rows_(std::move(rows)), source_(std::move(source)),
        label_words_(std::move(label_words)), options_(options) {
    // Read one row ahead so that an empty file fails at open(); a bad first row is reported by next() like any other.
    try {
      buffered_ = rows_->next(row_);
    } catch (const MalformedRow&) {
      first_error_ = std::current_exception();
    }
    if (!buffered_ && !first_error_) throw DataError(rows_->path(), 0, "empty file: no rows");
  }

  bool next(Example& example) override {
    for (;;) {
      try {
        if (first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
        if (!std::exchange(buffered_, false) && !rows_->next(row_)) {
          if (examples_ == 0) fail_empty();
          return false;
        }
        if (to_example(example)) {
          ++examples_;
          return true;
        }
        ++left_out_;
      } catch (const MalformedRow&) {
        ++malformed_;
        if (!options_.skip_malformed) throw;
      }
    }
  }

  int64_t skipped() const override { return options_.skip_malformed ? malformed_ : 0; }

 private:
  // The file has rows but none is an example of this split: training or scoring on nothing must not pass for a result.
  [[noreturn]] void fail_empty() const {
    std::vector<std::string> rows;
    if (left_out_) rows.push_back(std::to_string(left_out_) + " rows belong to other splits or have a label left out");
    if (malformed_) rows.push_back(std::to_string(malformed_) + " malformed");
    throw DataError(rows_->path(), 0, name_ + " has no examples (" + join(rows) + ")");
  }

  // False for a row left out on purpose (a dropped label, or a text hashed into another split).
  bool to_example(Example& example) {
    const LabelRule& rule = source_->labels;
    if (contains(rule.dropped, row_.label)) return false;
    std::string word = label_word(rule);
    repair_utf8(row_.text);
    if (source_->buckets != kAllBuckets && !((source_->buckets >> bucket_of(row_.text)) & 1u)) return false;
    example.text = std::move(row_.text);
    example.label = std::move(word);
    return true;
  }

  std::string label_word(const LabelRule& rule) const {
    const std::string& raw = row_.label;
    if (rule.threshold) {
      double score = 0;
      const auto [end, error] = std::from_chars(raw.data(), raw.data() + raw.size(), score);
      // from_chars also reads "nan" and "inf", which no comparison with the threshold would catch.
      if (error != std::errc() || end != raw.data() + raw.size() || raw.empty() || !(score >= 0 && score <= 1))
        throw MalformedRow(rows_->path(), row_.line, "bad score '" + raw + "' (expected a number in [0, 1])");
      return label_words_.at(score >= *rule.threshold ? 1 : 0);
    }
    for (const auto& [from, word] : rule.words)
      if (from == raw) return word;
    std::vector<std::string> known;
    for (const auto& [from, word] : rule.words) known.push_back("'" + from + "'");
    const std::string shown = raw.size() > 40 ? raw.substr(0, 40) + "..." : raw;
    throw MalformedRow(rows_->path(), row_.line, "bad label '" + shown + "' (expected " + join(known) + ")");
  }

  std::string name_;
  std::unique_ptr<RowReader> rows_;
  std::shared_ptr<const Task::Source> source_;
  std::vector<std::string> label_words_;
  ReadOptions options_;
  Row row_;
  bool buffered_ = false;
  std::exception_ptr first_error_;
  int64_t malformed_ = 0;
  int64_t examples_ = 0;  // returned
  int64_t left_out_ = 0;  // rows of other splits or with a dropped label
};

// The layout of `source` that is read: the first that exists.
const Layout& layout_to_read(const Task::Source& source, const fs::path& root) {
  for (const auto& layout : source.layouts)
    if (fs::exists(root / layout.path)) return layout;
  std::vector<std::string> others;
  for (size_t i = 1; i < source.layouts.size(); ++i) others.push_back((root / source.layouts[i].path).string());
  std::string what = "no such file";
  if (!others.empty()) what += " (nor " + join(others) + ")";
  if (!source.if_missing.empty()) what += "; " + source.if_missing;
  throw MissingData(root / source.layouts.front().path, 0, what);
}

std::unique_ptr<RowReader> open_source(const Task::Source& source, const fs::path& root) {
  const Layout& layout = layout_to_read(source, root);
  return open_rows(root / layout.path, layout.format);
}

// Path, size and a hash of the contents of a file, or of every file under a directory, one per line (sorted:
// directory order varies). Not the modification time: see Task::fingerprint.
std::string file_identity(const fs::path& path) {
  const auto identity = [](const fs::path& file) {
    return json::quote(file.string()) + " " + std::to_string(fs::file_size(file)) + " " +
           fnv1a64_fingerprint_of(hash_file(file)) + "\n";
  };
  const fs::path resolved = fs::canonical(path);  // the same file, however the data root was spelt
  if (!fs::is_directory(resolved)) return identity(resolved);
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(resolved))
    if (entry.is_regular_file()) files.push_back(identity(entry.path()));
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& file : files) text += file;
  return text;
}

Task::Source file_source(const fs::path& path, Format format, LabelRule labels) {
  return {{{path.string(), std::move(format)}}, std::move(labels), kAllBuckets, ""};
}

using SplitSources = std::vector<std::pair<std::string, Task::Source>>;

// `train` and a `dev` carved out of it (see bucket_of).
void add_train_and_dev(SplitSources& splits, const Task::Source& file) {
  Task::Source train = file, dev = file;
  train.buckets = file.buckets & ~kDevBucket;
  dev.buckets = kDevBucket;
  splits.emplace_back("train", std::move(train));
  splits.emplace_back("dev", std::move(dev));
}

Task make_task(std::string name, std::vector<std::string> label_words, std::string metric, std::string caveat,
               SplitSources splits, const fs::path& root) {
  Task task{std::move(name), std::move(label_words), std::move(metric), {}, std::move(caveat), {}, root};
  for (auto& [split, source] : splits) {
    task.splits.push_back(split);
    task.sources.push_back(std::make_shared<const Task::Source>(std::move(source)));
  }
  return task;
}

// TREC's classes in HF's order; fine label words are "<coarse word> <fine code>", e.g. "entity animal".
struct TrecClass {
  const char* code;
  const char* word;
  std::vector<const char*> fine;
};
const std::vector<TrecClass>& trec_classes() {
  static const std::vector<TrecClass> classes = {
      {"ABBR", "abbreviation", {"abb", "exp"}},
      {"ENTY", "entity", {"animal", "body", "color", "cremat", "currency", "dismed", "event", "food", "instru",
                          "lang", "letter", "other", "plant", "product", "religion", "sport", "substance", "symbol",
                          "techmeth", "termeq", "veh", "word"}},
      {"DESC", "description", {"def", "desc", "manner", "reason"}},
      {"HUM", "human", {"gr", "ind", "title", "desc"}},
      {"LOC", "location", {"city", "country", "mount", "other", "state"}},
      {"NUM", "number", {"code", "count", "date", "dist", "money", "ord", "other", "period", "perc", "speed",
                         "temp", "volsize", "weight"}}};
  return classes;
}

std::vector<Task> builtin_tasks(const fs::path& root) {
  const std::vector<std::string> sentiment_words{"negative", "positive"};
  const LabelRule sentiment01{.words = {{"0", "negative"}, {"1", "positive"}}};
  const std::vector<std::string> toxic_words{"non-toxic", "toxic"};
  const LabelRule toxic01{.words = {{"0", "non-toxic"}, {"1", "toxic"}}};
  const CsvOptions tsv{'\t', false};  // GLUE-style TSV: no quoting
  std::vector<Task> tasks;

  const TableSpec glue{.csv = tsv, .header = true, .text = {"sentence"}, .label = "label"};
  tasks.push_back(make_task(
      "sst2", sentiment_words, "accuracy",
      "test is sst2/test_labeled.tsv: the GLUE test sentences with labels from the original SST release, not an "
      "official GLUE artefact",
      {{"train", file_source("sst2/train.tsv.gz", glue, sentiment01)},
       {"dev", file_source("sst2/dev.tsv", glue, sentiment01)},
       {"test", file_source("sst2/test_labeled.tsv", glue, sentiment01)}},
      root));

  for (const bool fine : {false, true}) {
    LabelRule rule;
    std::vector<std::string> words;
    for (const TrecClass& c : trec_classes()) {
      if (!fine) {
        rule.words.emplace_back(c.code, c.word);
        continue;
      }
      for (const char* f : c.fine)
        rule.words.emplace_back(std::string(c.code) + ":" + f, std::string(c.word) + " " + f);
    }
    for (const auto& [raw, word] : rule.words) words.push_back(word);
    SplitSources splits;
    add_train_and_dev(splits, file_source("trec/train_5500.label", TrecSpec{fine}, rule));
    splits.emplace_back("test", file_source("trec/TREC_10.label", TrecSpec{fine}, rule));
    tasks.push_back(make_task(fine ? "trec_fine" : "trec", words, "accuracy", "", std::move(splits), root));
  }

  {
    const TableSpec imdb_tsv{.csv = tsv, .header = true, .text = {"text"}, .label = "label"};
    const AclImdbSpec labelled{{{"neg", "0"}, {"pos", "1"}}};
    const auto imdb = [&](const std::string& split, const AclImdbSpec& dir_classes, const std::string& tsv_file,
                          LabelRule rule) {
      return Task::Source{
          {{"imdb/aclImdb/" + split, dir_classes}, {"imdb/" + tsv_file, imdb_tsv}}, std::move(rule), kAllBuckets, ""};
    };
    SplitSources splits;
    add_train_and_dev(splits, imdb("train", labelled, "train.tsv.gz", sentiment01));
    splits.emplace_back("test", imdb("test", labelled, "test.tsv.gz", sentiment01));
    splits.emplace_back("unsup", imdb("train", {{{"unsup", "-1"}}}, "unsup.tsv.gz", {.words = {{"-1", ""}}}));
    tasks.push_back(make_task("imdb", sentiment_words, "accuracy", "", std::move(splits), root));
  }

  {
    // Text = title + " " + description (as HF's ag_news); label words are classes.txt lower-cased.
    const TableSpec csv{.fields = 3, .text = {1, 2}, .label = 0, .backslash_breaks = true};
    const LabelRule rule{.words = {{"1", "world"}, {"2", "sports"}, {"3", "business"}, {"4", "sci/tech"}}};
    SplitSources splits;
    add_train_and_dev(splits, file_source("ag_news/train.head2000.csv", csv, rule));
    splits.emplace_back("test", file_source("ag_news/test.csv.gz", csv, rule));
    tasks.push_back(make_task("ag_news", {"world", "sports", "business", "sci/tech"}, "accuracy",
                              "train/dev come from the first 2,000 of the 120,000 official train rows (not "
                              "class-balanced): a sample, not comparable to full-data results",
                              std::move(splits), root));
  }

  {
    // Polarity 2 (neutral) occurs only in the manual test set; the binary task leaves those 139 rows out, as the
    // paper's 359-tweet test set does.
    const TableSpec csv{.fields = 6, .text = {5}, .label = 0};
    const LabelRule rule{.words = {{"0", "negative"}, {"4", "positive"}}, .dropped = {"2"}};
    SplitSources splits;
    add_train_and_dev(splits, file_source("sentiment140/training.sample20k.csv.gz", csv, rule));
    splits.emplace_back("test", file_source("sentiment140/testdata.manual.2009.06.14.csv", csv, rule));
    tasks.push_back(make_task("sentiment140", sentiment_words, "accuracy",
                              "train/dev come from a 20,000-row non-random sample (1.25%) of the 1.6M training "
                              "tweets",
                              std::move(splits), root));
  }

  {
    // train/dev/test are all carved from the 12,180-row RobTest file: bucket 0 dev, bucket 1 test, the rest train.
    // head267 is the start of the official Kaggle train.csv (canonical format; none of its texts is in the other).
    const TableSpec robtest_csv{.fields = 2, .text = {0}, .label = 1};
    Task::Source robtest = file_source("wiki_toxic/robtest_jigsaw_binary.csv.gz", robtest_csv, toxic01);
    Task::Source test = robtest;
    robtest.buckets &= ~kTestBucket;
    test.buckets = kTestBucket;
    SplitSources splits;
    add_train_and_dev(splits, robtest);
    splits.emplace_back("test", std::move(test));
    splits.emplace_back("head267", file_source("wiki_toxic/jigsaw2018_train.head267.csv",
                                               TableSpec{.header = true, .text = {"comment_text"}, .label = "toxic"},
                                               toxic01));
    tasks.push_back(make_task("wiki_toxic", toxic_words, "f1",
                              "train/dev/test are carved from a balanced 12,180-comment subset of undocumented "
                              "construction (RobTest), not the Kaggle splits: not comparable to the paper",
                              std::move(splits), root));
  }

  {
    const TableSpec csv{.header = true, .text = {"comment_text"}, .label = "toxicity"};
    SplitSources splits;
    for (const std::string split : {"train", "dev", "test"}) {
      Task::Source source = file_source("civil_comments/" + split + ".csv", csv, {.threshold = 0.5});
      source.layouts.push_back({"civil_comments/" + split + ".csv.gz", csv});
      source.if_missing =
          "CivilComments is not in the shipped data (MANIFEST.md); provide civil_comments/{train,dev,test}.csv with "
          "'comment_text' and 'toxicity' columns";
      splits.emplace_back(split, std::move(source));
    }
    tasks.push_back(make_task("civil_comments", toxic_words, "f1", "", std::move(splits), root));
  }
  return tasks;
}

// A user task file (see find_task in tasks.h for its keys).
class TaskFile {
 public:
  TaskFile(const fs::path& file, const fs::path& data_root)
      : file_(file), data_root_(data_root), tree_(config::YamlTree::from_file(file)) {}

  Task task() const {
    const std::vector<std::string> known = {"name",         "format",      "header", "text_column", "label_column",
                                            "label_words", "metric",      "splits", "caveat"};
    for (const auto& entry : tree_.root())
      if (const std::string key = entry.first.as<std::string>(); !contains(known, key))
        fail(key, "unknown key (known keys: " + join(known) + ")");

    const std::string format = choice("format", {"tsv", "csv", "jsonl"}, "");
    Format spec = format == "jsonl" ? Format(JsonlSpec{required("text_column"), required("label_column")})
                                    : Format(table_spec(format));

    LabelRule rule;
    std::vector<std::string> words;
    if (const YAML::Node node = tree_.find("label_words")) {
      if (!node.IsMap() || node.size() == 0) fail("label_words", "expected a mapping from raw label to label word");
      for (const auto& entry : node) {
        if (!entry.second.IsScalar() || entry.second.Scalar().empty())
          fail("label_words", "label word for '" + entry.first.Scalar() + "' must be a non-empty string");
        rule.words.emplace_back(entry.first.Scalar(), entry.second.Scalar());
        if (!contains(words, entry.second.Scalar())) words.push_back(entry.second.Scalar());
      }
    }

    const YAML::Node splits_node = tree_.find("splits");
    if (!splits_node || !splits_node.IsMap() || splits_node.size() == 0)
      fail("splits", "expected a mapping of train/dev/test to files");
    for (const auto& entry : splits_node)
      if (const std::string split = entry.first.as<std::string>(); !contains({"train", "dev", "test"}, split))
        fail("splits." + split, "unknown split (known: train, dev, test)");
    std::vector<std::pair<std::string, fs::path>> files;  // in the order train, dev, test
    for (const std::string split : {"train", "dev", "test"})
      if (const auto path = scalar("splits." + split)) files.emplace_back(split, locate(*path));

    if (words.empty()) {  // no label_words: the distinct labels of the train file (or the first one), sorted
      const std::set<std::string> labels = distinct_labels(files.front().second, spec);
      words.assign(labels.begin(), labels.end());
      if (std::all_of(words.begin(), words.end(), is_integer))
        std::sort(words.begin(), words.end(),
                  [](const auto& a, const auto& b) { return std::stoll(a) < std::stoll(b); });
      for (const auto& word : words) rule.words.emplace_back(word, word);
    }

    const std::string metric = choice("metric", {"accuracy", "f1"}, "accuracy");
    if (metric == "f1" && words.size() != 2)
      fail("metric", "f1 needs exactly two label words (the second is the positive class), got " +
                         std::to_string(words.size()));

    SplitSources splits;
    const bool carve_dev = files.front().first == "train" && !scalar("splits.dev");
    for (const auto& [split, path] : files) {
      Task::Source source = file_source(path, spec, rule);
      if (split == "train" && carve_dev) add_train_and_dev(splits, source);
      else splits.emplace_back(split, std::move(source));
    }
    return make_task(scalar("name").value_or(file_.stem().string()), words, metric, scalar("caveat").value_or(""),
                     std::move(splits), data_root_);
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw config::ConfigError(tree_.origin_of(key), key, what);
  }

  std::optional<std::string> scalar(const std::string& key) const {
    const YAML::Node node = tree_.find(key);
    if (!node) return std::nullopt;
    if (!node.IsScalar()) fail(key, "expected a string");
    return node.Scalar();
  }

  std::string required(const std::string& key) const {
    const auto value = scalar(key);
    if (!value || value->empty()) fail(key, "required key is missing");
    return *value;
  }

  // A value from `choices`; `fallback` when absent (empty fallback: required).
  std::string choice(const std::string& key, const std::vector<std::string>& choices,
                     const std::string& fallback) const {
    const std::string value = fallback.empty() ? required(key) : scalar(key).value_or(fallback);
    if (!contains(choices, value)) fail(key, "'" + value + "' is not one of: " + join(choices));
    return value;
  }

  TableSpec table_spec(const std::string& format) const {
    TableSpec spec{.csv = format == "tsv" ? CsvOptions{'\t', false} : CsvOptions{',', true}, .header = true};
    if (const YAML::Node node = tree_.find("header")) {
      bool header = true;
      if (!node.IsScalar() || !YAML::convert<bool>::decode(node, header)) fail("header", "expected true or false");
      spec.header = header;
    }
    const auto column = [&](const std::string& key) -> Column {
      const std::string value = required(key);
      if (is_integer(value) && value[0] != '-') return Column(std::stoi(value));
      if (!spec.header) fail(key, "a column name needs header: true (or give a 0-based column index)");
      return Column(value);
    };
    spec.text = {column("text_column")};
    spec.label = column("label_column");
    return spec;
  }

  // Relative paths are looked up next to the task file first, then under the data root.
  fs::path locate(const fs::path& path) const {
    if (path.is_absolute()) return path;
    if (fs::exists(file_.parent_path() / path)) return fs::absolute(file_.parent_path() / path);
    if (data_root_.empty())  // (predict needs no data unless the label words come from it)
      throw std::invalid_argument(file_.string() + ": " + path.string() +
                                  " is not next to the task file, and no data root is set to look under");
    return fs::absolute(data_root_ / path);
  }

  static std::set<std::string> distinct_labels(const fs::path& file, const Format& format) {
    std::set<std::string> labels;
    const auto rows = open_rows(file, format);
    for (Row row; rows->next(row);) labels.insert(row.label);
    if (labels.empty()) throw DataError(file, 0, "empty file: no rows to take label words from");
    if (labels.count("")) throw DataError(file, 0, "some rows have an empty label; give label_words");
    return labels;
  }

  fs::path file_;
  fs::path data_root_;
  config::YamlTree tree_;
};

const std::shared_ptr<const Task::Source>& source_of(const Task& task, const std::string& split) {
  const auto it = std::find(task.splits.begin(), task.splits.end(), split);
  if (it == task.splits.end())
    throw DataError(task.name, 0, "unknown split '" + split + "' (splits: " + join(task.splits) + ")");
  return task.sources.at(static_cast<size_t>(it - task.splits.begin()));
}

}  // namespace

std::unique_ptr<ExampleReader> Task::open(const std::string& split, const ReadOptions& options) const {
  const auto& source = source_of(*this, split);
  return std::make_unique<TaskReader>(name + "/" + split, open_source(*source, data_root), source, label_words,
                                      options);
}

std::string Task::fingerprint(const std::string& split) const {
  const Source& source = *source_of(*this, split);
  const Layout& layout = layout_to_read(source, data_root);
  std::string text = "label words:";
  for (const auto& word : label_words) text += " " + json::quote(word);
  text += "\nlabels:";
  for (const auto& [raw, word] : source.labels.words) text += " " + json::quote(raw) + "=" + json::quote(word);
  text += "\ndropped:";
  for (const auto& raw : source.labels.dropped) text += " " + json::quote(raw);
  if (source.labels.threshold) text += "\nthreshold: " + json::number(*source.labels.threshold);
  text += "\nbuckets: " + std::to_string(source.buckets) + "\nformat: " + describe(layout.format) + "\n";
  return fnv1a64_fingerprint(text + file_identity(data_root / layout.path));
}

std::vector<std::string> builtin_task_names() {
  std::vector<std::string> names;
  for (const auto& task : builtin_tasks({})) names.push_back(task.name);
  return names;
}

Task find_task(const std::string& name_or_yaml, const fs::path& data_root) {
  if (name_or_yaml.ends_with(".yaml") || name_or_yaml.ends_with(".yml"))
    return TaskFile(name_or_yaml, data_root).task();
  for (auto& task : builtin_tasks(data_root))
    if (task.name == name_or_yaml) return std::move(task);
  throw std::invalid_argument("unknown task '" + name_or_yaml + "' (built-in tasks: " + join(builtin_task_names()) +
                              "; or a task file ending in .yaml)");
}

std::unique_ptr<ExampleReader> open_text_corpus(const fs::path& file, const ReadOptions& options) {
  const std::string name = file.filename().string();
  const bool jsonl = name.ends_with(".jsonl") || name.ends_with(".jsonl.gz");
  const auto source = std::make_shared<const Task::Source>(
      file_source(file, jsonl ? Format(JsonlSpec{}) : Format(TextSpec{}), {.words = {{"", ""}}}));
  return std::make_unique<TaskReader>("the corpus", open_source(*source, {}), source, std::vector<std::string>{},
                                      options);
}

std::optional<fs::path> find_data_root(const std::string& flag_value, const std::string& config_value) {
  std::string root = flag_value, from = "the command line";
  if (const char* env = std::getenv("CONVPT_DATA_ROOT"); root.empty() && env && *env)
    root = env, from = "$CONVPT_DATA_ROOT";
  if (root.empty()) root = config_value, from = "data.root";
  if (root.empty()) return std::nullopt;
  if (!fs::is_directory(root))
    throw std::invalid_argument("data root '" + root + "' (from " + from + ") is not a directory");
  return root;
}

fs::path resolve_data_root(const std::string& flag_value, const std::string& config_value) {
  if (auto root = find_data_root(flag_value, config_value)) return *root;
  throw std::invalid_argument("no data root: give one on the command line, in $CONVPT_DATA_ROOT or as data.root");
}

}  // namespace convpt::data
