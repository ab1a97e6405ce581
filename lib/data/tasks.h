#pragma once
// Fine-tuning tasks and pre-training corpora as streams of text examples.
//
// Every task reads its dataset's canonical files (GLUE TSV, TREC `COARSE:fine text`, aclImdb directories or
// `label<TAB>text` TSV, quoted CSV, JSONL; plain or gzip) from a data root, one example at a time. Labels come out
// as the task's label words (the text-to-text targets, e.g. "positive"), never as dataset-specific codes.
#include <filesystem>
#include <memory>
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
  // was opened with skip_malformed, in which case the row is counted in skipped() and reading goes on.
  virtual bool next(Example& example) = 0;
  virtual int64_t skipped() const = 0;
};

struct ReadOptions {
  bool skip_malformed = false;
};

struct Task {
  std::string name;
  std::vector<std::string> label_words;  // class index -> label word
  std::string metric;                    // "accuracy", or "f1" (binary, positive class = label_words[1])
  std::vector<std::string> splits;       // e.g. {"train", "dev", "test"}
  std::string caveat;                    // non-empty when a split is only a sample of the dataset (see MANIFEST.md)

  // Opens one split. Throws DataError for an unknown split or a missing/empty file.
  std::unique_ptr<ExampleReader> open(const std::string& split, const ReadOptions& options = {}) const;

  // Implementation detail of the registry: how to read each split.
  struct Source;
  std::vector<std::shared_ptr<const Source>> sources;  // one per entry of `splits`
  std::filesystem::path data_root;
};

// Built-in task names: sst2, trec, trec_fine, imdb, ag_news, sentiment140, wiki_toxic, civil_comments.
std::vector<std::string> builtin_task_names();

// A built-in task by name, or a user task defined in a YAML file (path ending in .yaml). Throws std::invalid_argument
// for an unknown name (listing the known ones) and config::ConfigError for a bad task file.
Task find_task(const std::string& name_or_yaml, const std::filesystem::path& data_root);

// Pre-training text: plain text (documents separated by empty lines; within a document, lines are joined with
// "\n") or JSONL with a "text" field (.jsonl, .jsonl.gz). One Example per document, label empty.
std::unique_ptr<ExampleReader> open_text_corpus(const std::filesystem::path& file, const ReadOptions& options = {});

// The data root: the command-line value if given, else $CONVPT_DATA_ROOT, else the config's data.root. Throws
// std::invalid_argument when none is set or the directory does not exist.
std::filesystem::path resolve_data_root(const std::string& flag_value, const std::string& config_value);

}  // namespace convpt::data
