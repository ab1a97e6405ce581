#pragma once
// Fine-tuning tasks and pre-training corpora as streams of text examples.
//
// Every task reads its dataset's canonical files (GLUE TSV, TREC `COARSE:fine text`, aclImdb directories or
// `label<TAB>text` TSV, quoted CSV, JSONL; plain or gzip) from a data root, one example at a time. Labels come out
// as the task's label words (the text-to-text targets, e.g. "positive"), never as dataset-specific codes.
//
// Rules common to all tasks:
// - Text is valid UTF-8: a byte that does not begin a valid UTF-8 sequence becomes a space (TREC's one 0xF0 byte,
//   "sister\xF0city", reads "sister city", as in HF's loader).
// - Dev carved from train, where a dataset has no dev split (trec, imdb, ag_news, sentiment140, user tasks without
//   a dev file): an example is in dev when the FNV-1a 64 hash of its text, mod 10, is 0, and in train otherwise.
//   Deterministic, streaming, stable under reordering, and duplicate texts stay on one side. wiki_toxic carves
//   train/dev/test from its one labelled file the same way: bucket 0 dev, bucket 1 test, the rest train.
// - Rows left out on purpose are not malformed: Sentiment140's neutral tweets (polarity 2, test only) are dropped
//   from the binary task, giving the paper's 359 test tweets.
// - A split without a single example is an error (at its end: e.g. a dev carved from a train file too small to have a
//   text in bucket 0), as is an empty class directory of aclImdb.
// Per task: sst2 test = test_labeled.tsv (labels not from GLUE, see caveat); trec/trec_fine label words are readable
// ("entity", fine: "entity animal" = coarse word + fine code); imdb has a fourth split "unsup" (label empty) and
// reads imdb/aclImdb/{train,test}/ directories instead of the TSVs where they exist; ag_news text = title + " " +
// description, where a run of backslashes marks a line break and becomes one space and `\$` is `$` (the readme says
// "\n", but the data has a lone backslash: "social\network"); wiki_toxic (f1) also has a split "head267" (the
// canonical Kaggle CSV's first rows); civil_comments (f1) reads civil_comments/{train,dev,test}.csv[.gz] with
// columns comment_text and toxicity, toxic when toxicity >= 0.5 (not shipped: opening it says so).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/line_reader.h"

namespace convpt::data {

struct Example {
  std::string text;
  std::string label;  // one of the task's label words; empty for unlabelled text (pre-training corpora)
};

class ExampleReader {
 public:
  virtual ~ExampleReader() = default;
  // Next example, or false at the end. A malformed row throws DataError naming file and line, unless the reader
  // was opened with skip_malformed, in which case the row is counted in skipped() and reading goes on. The end of
  // a split that gave no example throws DataError instead.
  virtual bool next(Example& example) = 0;
  virtual int64_t skipped() const = 0;
};

struct ReadOptions {
  bool skip_malformed = false;
};

// A split whose files are absent (none of its layouts exists), as opposed to present but unreadable or malformed.
struct MissingData : DataError {
  using DataError::DataError;
};

struct Task {
  std::string name;
  std::vector<std::string> label_words;  // class index -> label word
  std::string metric;                    // "accuracy", or "f1" (binary, positive class = label_words[1])
  std::vector<std::string> splits;       // e.g. {"train", "dev", "test"}
  std::string caveat;  // non-empty when a split is only a sample or not the official data (see MANIFEST.md)

  // Opens one split. Throws MissingData when none of its files exists, DataError for an unknown split or an empty or
  // unreadable file.
  std::unique_ptr<ExampleReader> open(const std::string& split, const ReadOptions& options = {}) const;

  // The identity of one split's examples, "fnv1a64:<16 hex digits>": the label words, how raw labels map to them,
  // the carving, the format, and the path, size and FNV-1a hash of the contents of the file read (of every file, for
  // an aclImdb directory). Shards record it, so that shards of another definition under the same task name, or of a
  // file since repointed or edited, are not taken for this one's. It reads the split's files once (a fraction of a
  // second for IMDb's 50 MB), far less than tokenising them again; a file's time is no identity, since a fresh copy
  // of the same data (new provisioning, cp, rsync without -t) has a new one.
  // Throws DataError like open() for an unknown split or missing files.
  std::string fingerprint(const std::string& split) const;

  // Implementation detail of the registry: how to read each split.
  struct Source;
  std::vector<std::shared_ptr<const Source>> sources;  // one per entry of `splits`
  std::filesystem::path data_root;
};

// Built-in task names: sst2, trec, trec_fine, imdb, ag_news, sentiment140, wiki_toxic, civil_comments.
std::vector<std::string> builtin_task_names();

// A built-in task by name, or a user task defined in a YAML file (path ending in .yaml). Throws std::invalid_argument
// for an unknown name (listing the known ones) and config::ConfigError for a bad task file.
//
// A task file (unknown keys are errors, naming file and line):
//   name: my_task                  # default: the file name without .yaml
//   format: tsv                    # tsv (no quoting, as GLUE) | csv (RFC 4180) | jsonl
//   header: true                   # tsv/csv: the first row names the columns (default true)
//   text_column: sentence          # a header name or a 0-based index (all digits); jsonl: a field name
//   label_column: label
//   label_words: {"0": negative, "1": positive}  # raw label -> word, in class order; default: the distinct labels of
//                                  # the first split's file (train), sorted (numerically if all are integers)
//   metric: accuracy               # accuracy | f1 (needs two label words, the second positive)
//   splits: {train: train.tsv, dev: dev.tsv, test: test.tsv}  # relative paths: next to the task file first, then
//                                  # under the data root; no dev but a train: dev is carved from train
//   caveat: ...                    # optional
Task find_task(const std::string& name_or_yaml, const std::filesystem::path& data_root);

// Pre-training text: plain text (documents separated by empty lines; within a document, lines are joined with
// "\n") or JSONL with a "text" field (.jsonl, .jsonl.gz). One Example per document, label empty.
std::unique_ptr<ExampleReader> open_text_corpus(const std::filesystem::path& file, const ReadOptions& options = {});

// The data root: the command-line value if given, else $CONVPT_DATA_ROOT, else the config's data.root. Throws
// std::invalid_argument when none is set or the directory does not exist.
std::filesystem::path resolve_data_root(const std::string& flag_value, const std::string& config_value);
// The same, for a command that may need no data: nullopt when none is set (a set one must exist).
std::optional<std::filesystem::path> find_data_root(const std::string& flag_value, const std::string& config_value);

}  // namespace convpt::data
