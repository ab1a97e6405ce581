// `convpt pretrain`, `convpt finetune`, `convpt eval` and `convpt predict`: the paper's experiments from token shards
// and tasks, and the trained classifiers applied to new text.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/cli.h"
#include "config/yaml_tree.h"
#include "core/files.h"
#include "core/text.h"
#include "core/json.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "core/runtime.h"
#include "data/line_reader.h"
#include "data/loaders.h"
#include "data/shards.h"
#include "data/tasks.h"
#include "models/model_info.h"
#include "tokenizer/tokenizer.h"
#include "training/checkpoint.h"
#include "training/data_sources.h"
#include "training/precision.h"

namespace convpt::cli {
namespace fs = std::filesystem;
using training::Evaluation;

namespace {

int exit_code(const training::TrainOutcome& outcome) {
  switch (outcome.reason) {
    case training::StopReason::finished: return kOk;
    case training::StopReason::interrupted: log::warn(outcome.message); return kInterrupted;
    case training::StopReason::non_finite_loss: throw std::runtime_error(outcome.message);  // shown at any log level
  }
  return kRuntimeError;
}

// Builds the model of `config` and, when `init` names a checkpoint, loads its weights (refusing another model, or
// one trained on the ids of another tokenizer than `tokenizer_fingerprint`).
models::Seq2SeqModel build_model(const config::Config& config, const std::string& init,
                                 const std::string& tokenizer_fingerprint, torch::Device device) {
  models::Seq2SeqModel model(config.model);
  if (!init.empty()) {
    const training::CheckpointContents checkpoint = training::load_checkpoint(init);
    if (const std::string diff = training::model_differences(checkpoint.config.model, config.model); !diff.empty())
      throw std::runtime_error("checkpoint " + init + " is for another model:\n" + diff);
    training::check_same_tokenizer(checkpoint, init, tokenizer_fingerprint, "data.tokenizer " + config.data.tokenizer);
    training::load_named_state(*model, checkpoint.model);
    log::info("initialised from ", init, " (step ", checkpoint.step, ")");
  }
  model->to(device);
  log::info(config.model.arch, ": ", models::parameter_count(*model), " parameters");
  return model;
}

// Everything a classification task needs: examples per split (from `tokenize encode` shards made with this tokenizer
// from this data root and this task's data, else tokenised now) and the label words as token ids.
struct TaskData {
  data::Task task;
  std::vector<std::vector<int32_t>> label_ids;
  std::vector<data::Seq2SeqExample> examples(const std::string& split) const {
    const fs::path prefix = shards / "tasks" / task.name / split;
    if (fs::exists(prefix.string() + ".inputs.idx")) {
      const std::string stale = why_not_encoded_here(data::read_shards_provenance(shards), split);
      if (stale.empty()) return data::read_examples(prefix);
      log::warn(prefix.string(), ": ", stale, "; tokenizing ", task.name, "/", split, " from the data instead (",
                "re-run `convpt tokenize encode` to refresh the shards)");
    }
    const auto reader = task.open(split);
    return data::tokenize_examples(*tokenizer, *reader);
  }
  std::shared_ptr<tokenizer::Tokenizer> tokenizer;
  fs::path shards;
  fs::path data_root;  // canonical

 private:
  std::string why_not_encoded_here(const std::optional<data::ShardsProvenance>& encoded,
                                   const std::string& split) const {
    const std::string shard = "tasks/" + task.name + "/" + split;
    if (!encoded) return "no " + data::shards_provenance_file(shards).filename().string() + " says what encoded it";
    if (!encoded->covers(shard)) return "left from an earlier encoding (the last one did not write it)";
    if (encoded->tokenizer_fingerprint != tokenizer->fingerprint())
      return "encoded with another tokenizer (" + encoded->tokenizer + ", " + encoded->tokenizer_fingerprint + ")";
    if (encoded->data_root != data_root.string()) return "encoded from another data root (" + encoded->data_root + ")";
    // The same name may stand for another task (another file, or a user task named like a built-in), or the task's
    // definition or files may have changed since.
    const auto recorded = encoded->fingerprints.find(shard);
    if (recorded == encoded->fingerprints.end()) return "encoded without a fingerprint of its data (an older convpt)";
    if (const std::string now = task.fingerprint(split); recorded->second != now)
      return "encoded from other data (" + recorded->second + ", now " + now + ": another definition of task '" +
             task.name + "', or its files changed since)";
    return "";
  }
};

// Whether a command reads the task's examples; one that does not (predict) needs no data root, unless a task file
// takes its label words from its data.
enum class TaskExamples { read, unread };

TaskData load_task(const config::Config& config, const std::string& data_root_flag,
                   TaskExamples examples = TaskExamples::read) {
  if (config.finetune.task.empty()) throw UsageError("no task: pass --task or set finetune.task");
  if (config.data.tokenizer.empty()) throw std::invalid_argument("data.tokenizer is not set (see convpt tokenize)");
  const std::optional<fs::path> found = examples == TaskExamples::read
                                            ? data::resolve_data_root(data_root_flag, config.data.root)
                                            : data::find_data_root(data_root_flag, config.data.root);
  const fs::path root = found ? fs::canonical(*found) : fs::path();
  TaskData t{data::find_task(config.finetune.task, root), {},
             std::make_shared<tokenizer::Tokenizer>(config.data.tokenizer, int32_t(config.data.sentinels)),
             config.data.shards, root};
  if (t.tokenizer->vocab_size() > config.model.vocab_size)
    throw std::invalid_argument("the tokenizer has " + std::to_string(t.tokenizer->vocab_size()) +
                                " ids but model.vocab_size is " + std::to_string(config.model.vocab_size));
  for (const auto& word : t.task.label_words) {
    t.label_ids.push_back(t.tokenizer->encode(word));
    // Examples find their class by their target's ids: two words with the same ids would make one class of two.
    for (size_t i = 0; i + 1 < t.label_ids.size(); ++i)
      if (t.label_ids[i] == t.label_ids.back())
        throw std::invalid_argument(t.task.name + ": label words '" + t.task.label_words[i] + "' and '" + word +
                                    "' are the same token ids with " + config.data.tokenizer +
                                    " (unknown pieces?): their classes cannot be told apart; choose other label words");
  }
  if (!t.task.caveat.empty()) log::warn(t.task.name, ": ", t.task.caveat);
  return t;
}

// The conv models' learned positions end at model.max_positions: a longer input or target would fail at the first
// batch, after the run directory exists. Checked per command, since the other command's section may be longer.
void check_positions(const config::Config& config, const std::string& config_file, const std::string& section,
                     int64_t input_length, int64_t target_length) {
  if (config.model.arch == "transformer") return;  // relative positions have no end
  for (const auto& [length, name] : {std::pair{input_length, "input_length"}, {target_length, "target_length"}})
    if (length > config.model.max_positions)
      throw config::ConfigError({config_file, 0}, section + "." + name,
                                "must be <= model.max_positions (" + std::to_string(config.model.max_positions) +
                                    ", the learned positions of " + config.model.arch + "), got " +
                                    std::to_string(length));
}

// Training cuts targets to target_length - 1 tokens (then EOS), while classification scores whole label words: a
// longer label would be learnt cut and scored whole.
void check_labels_fit(const TaskData& task, int64_t target_length) {
  size_t longest = 0;
  for (size_t i = 1; i < task.label_ids.size(); ++i)
    if (task.label_ids[i].size() > task.label_ids[longest].size()) longest = i;
  const int64_t needed = int64_t(task.label_ids.at(longest).size()) + 1;
  if (needed > target_length)
    throw std::invalid_argument("finetune.target_length is " + std::to_string(target_length) + ", but " +
                                task.task.name + "'s longest label word, '" + task.task.label_words[longest] +
                                "', is " + std::to_string(needed - 1) + " tokens: with EOS it needs " +
                                "finetune.target_length >= " + std::to_string(needed));
}

Evaluation metrics_of(const eval::ConfusionMatrix& confusion, const std::string& prefix) {
  return {{prefix + "accuracy", confusion.accuracy()}, {prefix + "f1", confusion.task_f1()},
          {prefix + "examples", double(confusion.examples())}};
}

// The fingerprint of the tokenizer that made the pre-training shards; refuses shards whose encoding is incomplete,
// did not write them, or was made with another tokenizer than data.tokenizer (where that file is at hand).
std::string pretraining_tokenizer(const config::Config& config) {
  const auto encoded = data::read_shards_provenance(config.data.shards);
  const std::string record = data::shards_provenance_file(config.data.shards).string();
  if (!encoded)
    throw std::invalid_argument("no " + record +
                                ", so the encoding is incomplete or older than this convpt: re-run `convpt tokenize encode`");
  for (const std::string split : {"pretrain/train", "pretrain/valid"})
    if (!encoded->covers(split))
      throw std::invalid_argument(record + ": the last encoding did not write " + split +
                                  " (are data.train_corpus and data.valid_corpus set?)");
  if (config.data.tokenizer.empty() || !fs::exists(config.data.tokenizer)) {
    log::warn("data.tokenizer ", config.data.tokenizer.empty() ? "is not set" : config.data.tokenizer + " is absent",
              ": the shards are taken to be ", encoded->tokenizer, "'s (", encoded->tokenizer_fingerprint,
              "), as ", record, " says, unchecked");
  } else {
    const tokenizer::Tokenizer wanted(config.data.tokenizer, int32_t(config.data.sentinels));
    if (wanted.fingerprint() != encoded->tokenizer_fingerprint)
      throw std::invalid_argument(config.data.shards + " was encoded with tokenizer " + encoded->tokenizer + " (" +
                                  encoded->tokenizer_fingerprint + "), but data.tokenizer " + config.data.tokenizer +
                                  " is " + wanted.fingerprint() + ": re-run `convpt tokenize encode`");
  }
  return encoded->tokenizer_fingerprint;
}

// The config to evaluate a checkpoint with: the one it was trained with, plus the --set overrides (and global flags)
// that evaluation reads. Any other override is refused rather than ignored: the weights fix the model, and training
// keys have no effect on a test.
config::Config eval_config(const config::Config& trained, const GlobalOptions& global, const std::string& command) {
  static const std::vector<std::string> read = {"run.threads",    "run.device",          "run.seed",
                                                "data.root",      "data.tokenizer",      "data.shards",
                                                "finetune.batch_size", "finetune.input_length", "finetune.precision"};
  config::YamlTree tree = config::YamlTree::from_string(config::to_yaml(trained), "the checkpoint's config.yaml");
  for (const std::string& assignment : global.config_overrides()) {
    const std::string key = assignment.substr(0, assignment.find('='));
    if (std::find(read.begin(), read.end(), key) == read.end()) {
      throw config::ConfigError({"--set " + assignment, 0}, key,
                                command + " takes the checkpoint's config and may override only " + join(read));
    }
    tree.apply_override(assignment);
  }
  return config::load_config(tree);
}

config::Config load_run_config(const std::string& file, const GlobalOptions& global) {
  return config::load_config(file, global.config_overrides());
}

// The run directory, on the rank that writes it (rank 0); the other ranks of a data-parallel run get none.
// `init_weights`: see RunDir::create.
std::optional<RunDir> open_run(const config::Config& config, const std::string& command, bool resume,
                               const training::DataParallel& parallel, const std::string& init_weights = "") {
  if (!parallel.is_main()) return std::nullopt;
  return RunDir::create(config, command, resume, init_weights);
}

// --resume: every rank continues from the checkpoint that rank 0 finds (none: the run starts over). Then, on every
// start, the run is marked unfinished: results.json marks a finished run (reproduce skips it), and a run that goes
// on is not finished until it ends again. Not before: a resume refused here leaves a finished run as it was.
void start_training(training::Trainer& trainer, const std::optional<RunDir>& run, bool resume,
                    training::DataParallel& parallel) {
  if (resume) {
    std::string latest;
    if (run) {
      if (const auto found = training::latest_checkpoint(run->path())) latest = found->string();
    }
    latest = parallel.broadcast(latest);
    if (latest.empty()) {
      log::warn("--resume: no checkpoint in ", run ? run->path().string() : "rank 0's run directory",
                " yet; the run starts from step 0");
    } else {
      trainer.resume(latest);
    }
  }
  if (run) fs::remove(run->file("results.json"));
}

data::OrderOptions order_of(const config::Config& config, const training::DataParallel& parallel) {
  return {.seed = uint64_t(config.run.seed), .rank = parallel.rank(), .world_size = parallel.world_size()};
}

}  // namespace

Action add_pretrain_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string config;
    bool resume = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("pretrain", "Span-corruption pre-training from token shards");
  cmd->add_option("--config", flags->config, "experiment YAML")->required();
  cmd->add_flag("--resume", flags->resume, "continue the run in <run.output_dir>/<run.name> from its last checkpoint");
  return [flags, &global]() -> int {
    config::Config config = load_run_config(flags->config, global);
    if (flags->resume && config.run.name.empty()) throw UsageError("--resume needs run.name");
    check_positions(config, flags->config, "pretrain", config.pretrain.input_length, config.pretrain.target_length);
    training::settle_precision(config, "pretrain", flags->config);
    torch::Device device = apply_runtime(config.run);
    const auto parallel = training::join_data_parallel(config.run, device);
    const std::string tokenizer = pretraining_tokenizer(config);
    const fs::path shards = fs::path(config.data.shards) / "pretrain";
    const data::ShardReader train(shards / "train"), valid(shards / "valid");
    if (train.vocab_size() > config.model.vocab_size)
      throw std::invalid_argument("the shards use " + std::to_string(train.vocab_size()) +
                                  " ids but model.vocab_size is " + std::to_string(config.model.vocab_size));
    const config::PretrainConfig& p = config.pretrain;
    data::PretrainOptions options{parallel->share(p.batch_size, "pretrain.batch_size"), p.input_length,
                                  p.target_length, {p.noise_density, p.mean_noise_span_length},
                                  int32_t(config.data.sentinels), order_of(config, *parallel)};
    models::Seq2SeqModel model = build_model(config, "", tokenizer, device);
    const std::optional<RunDir> run = open_run(config, "pretrain", flags->resume, *parallel);
    training::StreamSource<data::PretrainBatches> source(std::make_unique<data::PretrainBatches>(train, options),
                                                         device);
    auto evaluate = [&] {
      return Evaluation{{"valid_loss", training::validation_loss(*model, valid, options, p.eval_batches, device,
                                                                 p.precision, *parallel)}};
    };
    training::Trainer trainer(config, run, model, source, {p, evaluate, "", parallel, tokenizer});
    start_training(trainer, run, flags->resume, *parallel);
    const training::TrainOutcome outcome = trainer.run();
    if (!run || outcome.reason != training::StopReason::finished) return exit_code(outcome);
    std::ostringstream results;
    results << "{\"command\": \"pretrain\", \"arch\": \"" << config.model.arch << "\", \"step\": " << outcome.step
            << ", \"valid_loss\": " << json::number(outcome.best.at("valid_loss")) << "}\n";
    write_file_atomically(run->file("results.json"), results.str());
    return kOk;
  };
}

Action add_finetune_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string config, task, init, data_root;
    bool resume = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("finetune", "Text-to-text fine-tuning on a classification task");
  cmd->add_option("--config", flags->config, "experiment YAML")->required();
  cmd->add_option("--task", flags->task, "task name or task YAML (default: finetune.task)");
  cmd->add_option("--init", flags->init, "pre-trained checkpoint (run or checkpoint directory)");
  cmd->add_option("--data-root", flags->data_root, "dataset root (default: $CONVPT_DATA_ROOT, then data.root)");
  cmd->add_flag("--resume", flags->resume, "continue the run in <run.output_dir>/<run.name>");
  return [flags, &global]() -> int {
    std::vector<std::string> overrides = global.config_overrides();
    if (!flags->task.empty()) overrides.push_back("finetune.task=" + flags->task);
    if (!flags->init.empty()) overrides.push_back("finetune.init=" + flags->init);
    config::Config config = config::load_config(flags->config, overrides);
    if (flags->resume && config.run.name.empty()) throw UsageError("--resume needs run.name");
    check_positions(config, flags->config, "finetune", config.finetune.input_length, config.finetune.target_length);
    training::settle_precision(config, "finetune", flags->config);
    torch::Device device = apply_runtime(config.run);
    const auto parallel = training::join_data_parallel(config.run, device);
    const TaskData task = load_task(config, flags->data_root);
    const config::FinetuneConfig& f = config.finetune;
    check_labels_fit(task, f.target_length);
    // All splits are read before the run directory exists: bad data refuses the run rather than leaving a directory
    // that blocks the next one.
    auto train = task.examples("train");
    const auto dev = task.examples("dev"), test = task.examples("test");
    data::FinetuneOptions options{parallel->share(f.batch_size, "finetune.batch_size"), f.input_length,
                                  f.target_length, order_of(config, *parallel)};
    // Before the run directory: may refuse. Only rank 0 reads --init; the trainer gives the others its weights.
    const std::string& tokenizer = task.tokenizer->fingerprint();
    models::Seq2SeqModel model = build_model(config, parallel->is_main() ? f.init : "", tokenizer, device);
    const std::string init_weights =
        parallel->is_main() && !f.init.empty() ? training::weights_fingerprint(f.init) : "";
    const std::optional<RunDir> run = open_run(config, "finetune", flags->resume, *parallel, init_weights);
    training::StreamSource<data::FinetuneBatches> source(
        std::make_unique<data::FinetuneBatches>(std::move(train), options), device);
    auto evaluate = [&](const std::vector<data::Seq2SeqExample>& split, const std::string& prefix) {
      return metrics_of(
          training::classify(*model, split, task.label_ids, f.batch_size, f.input_length, device, f.precision,
                             *parallel), prefix);
    };
    const std::string select = task.task.metric == "f1" ? "dev_f1" : "dev_accuracy";
    training::Trainer trainer(config, run, model, source,
                              {f, [&] { return evaluate(dev, "dev_"); }, select, parallel, tokenizer});
    start_training(trainer, run, flags->resume, *parallel);
    const training::TrainOutcome outcome = trainer.run();
    if (outcome.reason != training::StopReason::finished) return exit_code(outcome);

    // Test with the weights that scored best on dev (rank 0 reads them, and gives them to the others).
    if (run) training::load_named_state(*model, training::load_checkpoint(run->file("best")).model);
    parallel->broadcast(*model);
    model->eval();
    const eval::ConfusionMatrix confusion =
        training::classify(*model, test, task.label_ids, f.batch_size, f.input_length, device, f.precision, *parallel);
    if (!run) return kOk;
    std::ostringstream results;
    results << "{\"command\": \"finetune\", \"task\": \"" << task.task.name << "\", \"arch\": \""
            << config.model.arch << "\", \"init\": \"" << f.init << "\", \"metric\": \"" << task.task.metric
            << "\", \"best_step\": " << outcome.best.at("best_step") << ", \"dev_" << task.task.metric
            << "\": " << json::number(outcome.best.at(select))
            << ", \"sample_only\": " << (task.task.caveat.empty() ? "false" : "true")
            << ", \"test\": " << confusion.to_json(task.task.label_words) << "}\n";
    write_file_atomically(run->file("results.json"), results.str());
    log::info(task.task.name, " test: accuracy ", confusion.accuracy(), ", F1 ", confusion.task_f1(), " (",
              confusion.examples(), " examples; best dev step ", outcome.best.at("best_step"), ")");
    return kOk;
  };
}

// A trained model ready to classify with: the checkpoint's config (eval_config), the task's data and label words,
// and the weights (a run directory's best/ if any), on the run's device in eval mode.
struct Classifier {
  config::Config config;
  torch::Device device;
  TaskData task;
  models::Seq2SeqModel model;
};

// `task`: a task name or file; empty for the one the checkpoint was fine-tuned on.
Classifier load_classifier(const std::string& checkpoint_flag, const std::string& task, const std::string& data_root,
                           const GlobalOptions& global, const std::string& command, TaskExamples examples) {
  const fs::path best = fs::path(checkpoint_flag) / "best";
  const fs::path source = fs::exists(best / "latest") ? best : fs::path(checkpoint_flag);
  training::CheckpointContents checkpoint = training::load_checkpoint(source);
  config::Config config = eval_config(checkpoint.config, global, command);
  training::settle_precision(config, "finetune", "the config of checkpoint " + source.string());
  if (!task.empty()) {
    config.finetune.task = task;
  } else if (config.finetune.task.empty()) {
    throw UsageError(checkpoint_flag + " names no task (a pre-training run?): pass --task");
  }
  const torch::Device device = apply_runtime(config.run);
  TaskData data = load_task(config, data_root, examples);
  training::check_same_tokenizer(checkpoint, source.string(), data.tokenizer->fingerprint(),
                                 "data.tokenizer " + config.data.tokenizer);
  models::Seq2SeqModel model(config.model);
  training::load_named_state(*model, checkpoint.model);
  model->to(device);
  model->eval();
  return {std::move(config), device, std::move(data), std::move(model)};
}

Action add_eval_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string checkpoint, task, split = "test", data_root;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a task split");
  cmd->add_option("--checkpoint", flags->checkpoint, "run directory (its best/ weights if any) or checkpoint")
      ->required();
  cmd->add_option("--task", flags->task, "task name or task YAML")->required();
  cmd->add_option("--split", flags->split, "split to evaluate")->capture_default_str();
  cmd->add_option("--data-root", flags->data_root, "dataset root (default: $CONVPT_DATA_ROOT, then data.root)");
  cmd->add_flag("--json", flags->json, "print the metrics as JSON");
  return [flags, &global]() -> int {
    Classifier c = load_classifier(flags->checkpoint, flags->task, flags->data_root, global, "eval", TaskExamples::read);
    const TaskData& task = c.task;
    const config::FinetuneConfig& f = c.config.finetune;
    const eval::ConfusionMatrix confusion = training::classify(*c.model, task.examples(flags->split), task.label_ids,
                                                               f.batch_size, f.input_length, c.device, f.precision);
    if (flags->json) {
      std::cout << confusion.to_json(task.task.label_words) << "\n";
    } else {
      std::cout << task.task.name << " " << flags->split << ": " << confusion.examples() << " examples, accuracy "
                << confusion.accuracy() << ", F1 (" << (confusion.classes() == 2 ? "binary" : "macro") << ") "
                << confusion.task_f1() << "\nconfusion (rows: gold, columns: predicted; " ;
      for (size_t i = 0; i < task.task.label_words.size(); ++i) std::cout << (i ? ", " : "") << task.task.label_words[i];
      std::cout << ")\n";
      for (int64_t g = 0; g < confusion.classes(); ++g) {
        for (int64_t p = 0; p < confusion.classes(); ++p) std::cout << (p ? " " : "  ") << confusion.count(g, p);
        std::cout << "\n";
      }
      if (!task.task.caveat.empty()) std::cout << "note: " << task.task.caveat << "\n";
    }
    return kOk;
  };
}

Action add_predict_command(CLI::App& app, const GlobalOptions& global) {
  struct Flags {
    std::string checkpoint, task, input, data_root;
    std::vector<std::string> texts;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("predict", "Classify new text with a fine-tuned checkpoint");
  cmd->add_option("--checkpoint", flags->checkpoint, "run directory (its best/ weights if any) or checkpoint")
      ->required();
  cmd->add_option("--task", flags->task, "task name or task YAML (default: the one the checkpoint was fine-tuned on)");
  CLI::Option* text = cmd->add_option("--text", flags->texts, "a text to classify (repeatable)");
  cmd->add_option("--input", flags->input, "a file of texts to classify, one per line ('-': standard input)")
      ->excludes(text);
  cmd->add_option("--data-root", flags->data_root,
                  "dataset root, needed only by a task file whose label words come from its data (default: "
                  "$CONVPT_DATA_ROOT, then data.root)");
  cmd->add_flag("--json", flags->json, "a JSON object per text: the label and each label word's probability");
  return [flags, &global]() -> int {
    if (flags->texts.empty() && flags->input.empty()) throw UsageError("predict: give --text or --input");
    // All texts are read before any output: a file that cannot be read prints no predictions.
    std::vector<std::string> texts = flags->texts;
    if (!flags->input.empty()) {
      // As the tasks' text is read: gzip or plain, NUL bytes refused, invalid UTF-8 repaired.
      data::LineReader in(flags->input);
      for (std::string line; in.next(line);) {
        data::repair_utf8(line);
        texts.push_back(std::move(line));
      }
      if (texts.size() == flags->texts.size())
        throw std::runtime_error(in.path().string() + ": no text to classify (the input is empty)");
    }
    Classifier c = load_classifier(flags->checkpoint, flags->task, flags->data_root, global, "predict",
                                   TaskExamples::unread);
    const std::vector<std::string>& words = c.task.task.label_words;
    std::vector<data::Seq2SeqExample> examples;
    for (const std::string& t : texts) examples.push_back({c.task.tokenizer->encode(t), {}});
    const config::FinetuneConfig& f = c.config.finetune;
    // The label is the word of highest log-likelihood, as in eval; the probabilities normalise over the label words.
    const torch::Tensor probabilities =
        training::score_label_words(*c.model, examples, c.task.label_ids, f.batch_size, f.input_length, c.device,
                                    f.precision)
            .softmax(1);
    std::ostringstream out;
    for (int64_t i = 0; i < probabilities.size(0); ++i) {
      const std::string& label = words[size_t(probabilities[i].argmax().item<int64_t>())];
      if (!flags->json) {
        out << label << "\n";
        continue;
      }
      out << "{\"label\": " << json::quote(label) << ", \"probabilities\": {";
      for (size_t w = 0; w < words.size(); ++w)
        out << (w ? ", " : "") << json::quote(words[w]) << ": " << json::number(probabilities[i][int64_t(w)].item<double>());
      out << "}}\n";
    }
    std::cout << out.str() << std::flush;
    return kOk;
  };
}

}  // namespace convpt::cli
