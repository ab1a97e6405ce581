// `convpt tokenize train|encode`: a SentencePiece model from the pre-training corpus, then the corpus and every task
// split as token shards (lib/data/shards.h).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "cli/cli.h"
#include "config/config.h"
#include "core/files.h"
#include "core/log.h"
#include "data/shards.h"
#include "data/tasks.h"
#include "tokenizer/tokenizer.h"

namespace convpt::cli {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

// The corpus files of a config list, under the data root; all checked before anything long starts.
std::vector<fs::path> corpus_files(const std::vector<std::string>& relative, const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& name : relative) {
    files.push_back(root / name);
    if (!fs::is_regular_file(files.back())) throw data::DataError(files.back(), 0, "no such corpus file");
  }
  return files;
}

// Several corpus files read as one stream of documents.
class CorpusReader : public data::ExampleReader {
 public:
  explicit CorpusReader(std::vector<fs::path> files) : files_(std::move(files)) {}
  bool next(data::Example& example) override {
    while (true) {
      if (current_ && current_->next(example)) return true;
      if (next_file_ == files_.size()) return false;
      current_ = data::open_text_corpus(files_[next_file_++]);
    }
  }
  int64_t skipped() const override { return 0; }  // opened without skip_malformed: bad rows throw

 private:
  std::vector<fs::path> files_;
  size_t next_file_ = 0;
  std::unique_ptr<data::ExampleReader> current_;
};

struct SplitStats {
  std::string name;
  int64_t documents = 0;
  int64_t tokens = 0;
  int64_t text_bytes = 0;
  double seconds = 0;
};

// Encodes every example of `reader` into <prefix>.bin/.idx, or, for a task (`labels`), texts into <prefix>.inputs
// and label words into <prefix>.targets. Blocks of documents are encoded on `threads` threads, written in order.
SplitStats encode_split(const std::string& name, data::ExampleReader& reader, const tokenizer::Tokenizer& tokenizer,
                        const fs::path& prefix, bool labels, int threads) {
  const auto start = Clock::now();
  SplitStats stats{name};
  data::ShardWriter inputs(labels ? prefix.string() + ".inputs" : prefix.string(), tokenizer.vocab_size());
  std::optional<data::ShardWriter> targets;
  if (labels) targets.emplace(prefix.string() + ".targets", tokenizer.vocab_size());

  std::vector<data::Example> block;
  std::vector<std::vector<int32_t>> encoded;
  for (bool more = true; more;) {
    block.clear();
    int64_t block_bytes = 0;
    data::Example example;
    while (block_bytes < (int64_t{16} << 20) && block.size() < 8192 && (more = reader.next(example))) {
      block_bytes += static_cast<int64_t>(example.text.size());
      block.push_back(std::move(example));
    }
    encoded.resize(block.size());
    std::vector<std::future<void>> workers;
    for (int t = 0; t < threads; ++t)
      workers.push_back(std::async(std::launch::async, [&, t] {
        for (size_t i = static_cast<size_t>(t); i < block.size(); i += static_cast<size_t>(threads))
          encoded[i] = tokenizer.encode(block[i].text);
      }));
    for (auto& worker : workers) worker.get();  // rethrows a worker's exception
    for (size_t i = 0; i < block.size(); ++i) {
      inputs.add(encoded[i]);
      if (targets) targets->add(tokenizer.encode(block[i].label));
      stats.tokens += static_cast<int64_t>(encoded[i].size());
    }
    stats.documents += static_cast<int64_t>(block.size());
    stats.text_bytes += block_bytes;
  }
  inputs.finish();
  if (targets) targets->finish();
  stats.seconds = seconds_since(start);
  return stats;
}

void print_stats(std::ostream& out, const std::vector<SplitStats>& rows) {
  char line[160];
  std::snprintf(line, sizeof line, "%-28s %10s %12s %9s %8s %7s\n", "split", "documents", "tokens", "MB text",
                "seconds", "MB/s");
  out << line;
  for (const auto& r : rows) {
    const double mb = static_cast<double>(r.text_bytes) / 1e6;
    std::snprintf(line, sizeof line, "%-28s %10lld %12lld %9.1f %8.1f %7.1f\n", r.name.c_str(),
                  static_cast<long long>(r.documents), static_cast<long long>(r.tokens), mb, r.seconds,
                  r.seconds > 0 ? mb / r.seconds : 0.0);
    out << line;
  }
}

struct Flags {
  std::string config, data_root, out;
};

int train(const Flags& flags, const GlobalOptions& global) {
  config::Config config = config::load_config(flags.config, global.config_overrides());
  const fs::path root = data::resolve_data_root(flags.data_root, config.data.root);
  const fs::path model = flags.out.empty() ? fs::path(config.data.tokenizer) : fs::path(flags.out);
  if (model.empty()) throw std::invalid_argument("no output model: give --out or set data.tokenizer");
  CorpusReader corpus(corpus_files(config.data.train_corpus, root));

  const auto start = Clock::now();
  tokenizer::LineSample sample(config.data.tokenizer_sample_lines, static_cast<uint64_t>(config.run.seed));
  for (data::Example document; corpus.next(document);) sample.add_text(document.text);
  const double sampling = seconds_since(start);
  log::info("sampled ", sample.lines().size(), " of ", sample.lines_seen(), " lines in ", seconds_text(sampling),
            "; training a ",
            config.data.vocab_pieces, "-piece ", config.data.tokenizer_type, " model on ",
            config.data.tokenizer_threads, " threads");
  const std::string bytes = tokenizer::train_sentencepiece(
      sample.lines(), {.pieces = config.data.vocab_pieces,
                       .model_type = config.data.tokenizer_type,
                       .threads = config.data.tokenizer_threads,
                       .seed = static_cast<uint64_t>(config.run.seed)});
  if (model.has_parent_path()) fs::create_directories(model.parent_path());
  write_file_atomically(model, bytes);

  config.data.root = root.string();  // what this model was made from, reusable as it stands
  config.data.tokenizer = model.string();
  fs::path resolved = model;
  write_file_atomically(resolved.replace_extension(".config.yaml"), config::to_yaml(config));
  std::cout << model.string() << ": " << config.data.vocab_pieces << " pieces + " << config.data.sentinels
            << " sentinels, trained on " << sample.lines().size() << " of " << sample.lines_seen()
            << " lines (seed " << config.run.seed << ") in " << seconds_text(seconds_since(start)) << "\n";
  return kOk;
}

int encode(const Flags& flags, const GlobalOptions& global) {
  config::Config config = config::load_config(flags.config, global.config_overrides());
  const fs::path root = data::resolve_data_root(flags.data_root, config.data.root);
  const fs::path out = flags.out.empty() ? fs::path(config.data.shards) : fs::path(flags.out);
  if (config.data.tokenizer.empty()) throw std::invalid_argument("no tokenizer: set data.tokenizer");
  const tokenizer::Tokenizer tokenizer(config.data.tokenizer, static_cast<int32_t>(config.data.sentinels));
  if (tokenizer.vocab_size() > config.model.vocab_size)
    throw std::invalid_argument(config.data.tokenizer + " has " + std::to_string(tokenizer.pieces()) +
                                " pieces; with " + std::to_string(tokenizer.sentinels()) +
                                " sentinels they exceed model.vocab_size (" + std::to_string(config.model.vocab_size) +
                                ")");
  const int threads = config.run.threads > 0 ? static_cast<int>(config.run.threads)
                                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto train_files = corpus_files(config.data.train_corpus, root);
  const auto valid_files = corpus_files(config.data.valid_corpus, root);
  // Every task split is opened before anything is written, so that an unknown task or a missing file leaves the
  // shards as they were. A configured task list must be complete; by default, absent tasks and splits are skipped
  // (but not files that are present and broken).
  struct TaskSplit {
    std::string name;         // "task/split"
    std::string fingerprint;  // data::Task::fingerprint
    std::unique_ptr<data::ExampleReader> reader;
  };
  std::vector<TaskSplit> task_splits;
  std::map<std::string, std::string> defined_by;  // task name -> the data.tasks entry that defined it
  std::vector<std::string> caveats;
  const bool listed = !config.data.tasks.empty();
  for (const auto& name : listed ? config.data.tasks : data::builtin_task_names()) {
    const data::Task task = data::find_task(name, root);
    // The name is the shards' directory: two tasks of one name would write, and be served, each other's examples.
    if (const auto [first, added] = defined_by.emplace(task.name, name); !added)
      throw std::invalid_argument("data.tasks: '" + first->second + "' and '" + name + "' are both task '" +
                                  task.name + "', whose shards go to " + (out / "tasks" / task.name).string() +
                                  "; give one of them another name (the task file's name: key)");
    for (const auto& split : task.splits) {
      try {
        auto reader = task.open(split);
        task_splits.push_back({task.name + "/" + split, task.fingerprint(split), std::move(reader)});
      } catch (const data::MissingData& e) {
        if (listed) throw;
        log::info("skipping ", task.name, "/", split, ": ", e.what());
      }
    }
    if (!task.caveat.empty()) caveats.push_back(task.name + ": " + task.caveat);
  }
  fs::remove(data::shards_provenance_file(out));  // until the new encoding is complete, none is trusted
  data::ShardsProvenance encoded{config.data.tokenizer, tokenizer.fingerprint(), fs::canonical(root).string(), {}, {}};

  std::vector<SplitStats> stats;
  const auto report = [&](SplitStats split) {
    log::info(split.name, ": ", split.documents, " documents, ", split.tokens, " tokens, ",
              seconds_text(split.seconds));
    stats.push_back(std::move(split));
  };
  for (const auto& [split, files] : {std::pair{"train", train_files}, std::pair{"valid", valid_files}}) {
    if (files.empty()) continue;
    CorpusReader corpus(files);
    report(encode_split(std::string("pretrain/") + split, corpus, tokenizer, out / "pretrain" / split, false, threads));
    encoded.splits.push_back(std::string("pretrain/") + split);
  }

  for (const auto& [name, fingerprint, reader] : task_splits) {
    report(encode_split(name, *reader, tokenizer, out / "tasks" / name, true, threads));
    encoded.splits.push_back("tasks/" + name);
    encoded.fingerprints["tasks/" + name] = fingerprint;
  }
  for (const auto& caveat : caveats) log::warn(caveat);

  config.data.root = root.string();
  config.data.shards = out.string();
  write_file_atomically(out / "config.yaml", config::to_yaml(config));
  std::ostringstream table;
  print_stats(table, stats);
  write_file_atomically(out / "stats.txt", table.str());
  data::write_shards_provenance(out, encoded);
  std::cout << table.str();
  return kOk;
}

}  // namespace

Action add_tokenize_command(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Train a SentencePiece model and encode corpora into token shards");
  cmd->require_subcommand(1);
  CLI::App* train_cmd = cmd->add_subcommand(
      "train", "Train SentencePiece (data.vocab_pieces, data.tokenizer_type) on a seeded sample of data.train_corpus");
  CLI::App* encode_cmd = cmd->add_subcommand(
      "encode", "Encode data.train_corpus, data.valid_corpus and the task splits into shards, with statistics");
  for (CLI::App* sub : {train_cmd, encode_cmd}) {
    sub->add_option("--config", flags->config, "experiment YAML")->required();
    sub->add_option("--data-root", flags->data_root, "dataset root (default: $CONVPT_DATA_ROOT, then data.root)");
  }
  train_cmd->add_option("--out", flags->out, "model file to write (default: data.tokenizer)");
  encode_cmd->add_option("--out", flags->out, "directory for the shards (default: data.shards)");
  return [flags, &global, train_cmd] { return train_cmd->parsed() ? train(*flags, global) : encode(*flags, global); };
}

}  // namespace convpt::cli
