#pragma once
// Typed experiment configuration. Every section lists its fields once, in `visit`, and that list drives
// loading (with type checks and unknown-key rejection), writing the resolved config, and documentation.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/yaml_tree.h"

namespace convpt::config {

// Extra rules for one field. `choices` restricts strings; `required` fields have no default.
struct FieldSpec {
  bool required = false;
  std::vector<std::string> choices = {};
};

// More LibTorch threads than this is a mistake (a pool of 100,000 threads hangs at start-up), not a setting.
inline constexpr int64_t kMaxThreads = 1024;

struct RunConfig {
  std::string name;                // run directory name under output_dir; empty: <command>-<arch>-<time>
  std::string output_dir = "runs";
  int64_t seed = 1;
  int64_t threads = 0;             // 0: one per core
  std::string device = "cpu";
  int64_t dist_timeout_s = 300;    // data-parallel runs: how long a rank waits for the others before failing

  bool operator==(const RunConfig&) const = default;
  template <class V> void visit(V& v) {
    v("name", name);
    v("output_dir", output_dir);
    v("seed", seed);
    v("threads", threads);
    v("device", device, {.choices = {"cpu", "cuda"}});
    v("dist_timeout_s", dist_timeout_s);
  }
};

struct ModelConfig {
  std::string arch;                // required: transformer | lightconv | dynamicconv | dilatedconv
  int64_t vocab_size = 32128;      // 32,000 SentencePiece pieces + 100 sentinels, padded as T5
  int64_t d_model = 768;
  int64_t d_ff = 3072;
  int64_t num_heads = 12;          // attention heads (self-attention and cross-attention)
  int64_t d_kv = 64;               // per-head width of attention projections
  int64_t encoder_layers = 12;
  int64_t decoder_layers = 12;
  double dropout = 0.1;
  double norm_epsilon = 1e-6;
  int64_t relative_attention_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  int64_t max_positions = 512;     // learned absolute positions of the conv models
  int64_t conv_heads = 0;          // lightweight/dilated weight-sharing heads H; 0: H = d_model (released code)
  std::vector<int64_t> kernel_sizes = {7};  // one value for every layer, or one per layer
  std::vector<int64_t> dilations = {1};     // idem; only dilatedconv may use values > 1

  bool operator==(const ModelConfig&) const = default;
  template <class V> void visit(V& v) {
    v("arch", arch, {.required = true, .choices = {"transformer", "lightconv", "dynamicconv", "dilatedconv"}});
    v("vocab_size", vocab_size);
    v("d_model", d_model);
    v("d_ff", d_ff);
    v("num_heads", num_heads);
    v("d_kv", d_kv);
    v("encoder_layers", encoder_layers);
    v("decoder_layers", decoder_layers);
    v("dropout", dropout);
    v("norm_epsilon", norm_epsilon);
    v("relative_attention_buckets", relative_attention_buckets);
    v("relative_attention_max_distance", relative_attention_max_distance);
    v("max_positions", max_positions);
    v("conv_heads", conv_heads);
    v("kernel_sizes", kernel_sizes);
    v("dilations", dilations);
  }
};

struct DataConfig {
  std::string root;                // dataset root; empty: $CONVPT_DATA_ROOT
  std::string tokenizer;           // SentencePiece model file
  int64_t sentinels = 100;
  // SentencePiece pieces, pad/eos/unk included; sentinels take the ids above them. 0: model.vocab_size - sentinels
  // rounded down to a multiple of 100 (32,128 -> 32,000 as the paper, 8,192 -> 8,000), resolved when loading.
  int64_t vocab_pieces = 0;
  std::string tokenizer_type = "unigram";
  int64_t tokenizer_sample_lines = 1000000;  // seeded (run.seed) reservoir sample of train_corpus lines to train on
  int64_t tokenizer_threads = 2;   // SentencePiece training threads; part of the result (unigram sums per thread)
  // Pre-training text relative to the data root: plain text (documents separated by empty lines) or JSONL.
  std::vector<std::string> train_corpus = {"pretrain/wiki_en.train.txt.gz"};
  std::vector<std::string> valid_corpus = {"pretrain/wiki_en.valid.txt.gz"};
  std::vector<std::string> tasks;  // tasks `tokenize encode` writes; empty: every built-in task whose files exist
  std::string shards = "shards";   // output directory of `tokenize encode`

  bool operator==(const DataConfig&) const = default;
  template <class V> void visit(V& v) {
    v("root", root);
    v("tokenizer", tokenizer);
    v("sentinels", sentinels);
    v("vocab_pieces", vocab_pieces);
    v("tokenizer_type", tokenizer_type, {.choices = {"unigram", "bpe"}});
    v("tokenizer_sample_lines", tokenizer_sample_lines);
    v("tokenizer_threads", tokenizer_threads);
    v("train_corpus", train_corpus);
    v("valid_corpus", valid_corpus);
    v("tasks", tasks);
    v("shards", shards);
  }
};

// Optimisation settings shared by pre-training and fine-tuning.
struct TrainConfig {
  int64_t steps = 1000;
  int64_t batch_size = 32;
  int64_t grad_accumulation = 1;
  std::string optimizer = "adafactor";
  double learning_rate = 1.0;       // peak / scale of the schedule
  std::string schedule = "rsqrt";
  int64_t warmup_steps = 10000;
  double weight_decay = 0.0;
  double clip_grad_norm = 0.0;      // 0: no clipping
  double z_loss = 1e-4;
  std::string precision = "fp32";  // fp32, bf16 (autocast), auto: see training/precision.h
  int64_t log_every = 10;
  int64_t eval_every = 500;
  int64_t checkpoint_every = 1000;
  int64_t keep_checkpoints = 2;

  bool operator==(const TrainConfig&) const = default;
  template <class V> void visit(V& v) {
    v("steps", steps);
    v("batch_size", batch_size);
    v("grad_accumulation", grad_accumulation);
    v("optimizer", optimizer, {.choices = {"adafactor", "adamw"}});
    v("learning_rate", learning_rate);
    v("schedule", schedule, {.choices = {"rsqrt", "linear", "cosine", "constant"}});
    v("warmup_steps", warmup_steps);
    v("weight_decay", weight_decay);
    v("clip_grad_norm", clip_grad_norm);
    v("z_loss", z_loss);
    v("precision", precision, {.choices = {"fp32", "bf16", "auto"}});
    v("log_every", log_every);
    v("eval_every", eval_every);
    v("checkpoint_every", checkpoint_every);
    v("keep_checkpoints", keep_checkpoints);
  }
};

struct PretrainConfig : TrainConfig {
  int64_t input_length = 512;
  int64_t target_length = 114;      // T5's target length for inputs of 512 at 15% noise, span 3
  int64_t eval_batches = 20;        // validation batches (from <data.shards>/pretrain/valid) per evaluation
  double noise_density = 0.15;
  double mean_noise_span_length = 3.0;

  bool operator==(const PretrainConfig&) const = default;
  template <class V> void visit(V& v) {
    TrainConfig::visit(v);
    v("input_length", input_length);
    v("target_length", target_length);
    v("eval_batches", eval_batches);
    v("noise_density", noise_density);
    v("mean_noise_span_length", mean_noise_span_length);
  }
};

struct FinetuneConfig : TrainConfig {
  std::string task;                 // a registered task name or a YAML task file
  std::string init;                 // checkpoint to start from; empty: random initialisation
  int64_t input_length = 512;
  int64_t target_length = 8;

  FinetuneConfig() {  // T5's fine-tuning defaults
    learning_rate = 1e-3;
    schedule = "constant";
    warmup_steps = 0;
  }
  bool operator==(const FinetuneConfig&) const = default;
  template <class V> void visit(V& v) {
    TrainConfig::visit(v);
    v("task", task);
    v("init", init);
    v("input_length", input_length);
    v("target_length", target_length);
  }
};

// `convpt bench --config`: every architecture at the width of the model section (model.arch is replaced by each
// of `archs`), against input length.
struct BenchConfig {
  std::vector<std::string> archs = {"transformer", "lightconv", "dynamicconv", "dilatedconv"};
  std::vector<int64_t> seq_lengths = {128, 256, 512, 1024, 2048, 4096};  // input tokens per example
  int64_t batch_size = 8;
  int64_t target_length = 128;     // decoder tokens of the training step, capped at the input length
  int64_t decode_steps = 32;       // tokens per example of each timed greedy decoding
  int64_t warmup = 2;
  int64_t repeats = 5;
  double max_memory_gb = 0;        // CPU: per-cell cap on heap memory; a cell above it reports OOM. 0: no cap
  // dilatedconv's per-layer kernel sizes and dilations; empty: model.kernel_sizes, no dilation. The other conv
  // models use model.kernel_sizes (and never dilation).
  std::vector<int64_t> dilatedconv_kernel_sizes;
  std::vector<int64_t> dilatedconv_dilations;

  bool operator==(const BenchConfig&) const = default;
  template <class V> void visit(V& v) {
    v("archs", archs, {.choices = {"transformer", "lightconv", "dynamicconv", "dilatedconv"}});
    v("seq_lengths", seq_lengths);
    v("batch_size", batch_size);
    v("target_length", target_length);
    v("decode_steps", decode_steps);
    v("warmup", warmup);
    v("repeats", repeats);
    v("max_memory_gb", max_memory_gb);
    v("dilatedconv_kernel_sizes", dilatedconv_kernel_sizes);
    v("dilatedconv_dilations", dilatedconv_dilations);
  }
};

struct Config {
  RunConfig run;
  ModelConfig model;
  DataConfig data;
  PretrainConfig pretrain;
  FinetuneConfig finetune;
  BenchConfig bench;

  bool operator==(const Config&) const = default;
  template <class V> void visit(V& v) {
    v.section("run", run);
    v.section("model", model);
    v.section("data", data);
    v.section("pretrain", pretrain);
    v.section("finetune", finetune);
    v.section("bench", bench);
  }
};

// `convpt reproduce GRID.yaml`: Table 2 as a grid. Each architecture is pre-trained once; each row (architecture x
// {scratch, pretrained}) is fine-tuned and tested on each dataset. Cell configs are merged from files (paths relative
// to the grid file) in which "{arch}" and "{dataset}" are replaced; the model section is the model file's alone
// (settings files inherit presets that also describe a model); then the grid sets run.*, finetune.task/init.
struct GridSpec {
  std::string name;                  // required: runs go to <output_dir>/<name>/, tables to <results_dir>/<name>/
  std::vector<std::string> archs = {"transformer", "lightconv", "dilatedconv", "dynamicconv"};
  std::vector<std::string> rows = {"scratch", "pretrained"};
  std::vector<std::string> datasets;  // required: task names
  std::string tokenizer;             // tokenizer config; `convpt tokenize train/encode` run when its outputs are missing or stale
  std::string model;                 // the model file of each architecture, e.g. ../models/{arch}-cpu.yaml
  std::vector<std::string> pretrain;  // files merged for each architecture's pre-training
  // Another grid file (relative to this one) whose pre-trainings the pretrained rows start from, instead of this
  // grid's own (then `pretrain` stays empty): fine-tuning ablations over the same pre-trained weights.
  std::string pretrain_from;
  std::vector<std::string> finetune;  // files merged for each cell's fine-tuning
  int64_t seed = 1;                     // every run's seed; the pre-trainings' always
  std::vector<int64_t> finetune_seeds;  // each cell fine-tuned once per seed (default: [seed]), over one pre-training
  std::string output_dir = "runs";
  std::string results_dir = "results";

  // The fine-tuning seeds: finetune_seeds, or [seed] when it is not set.
  std::vector<int64_t> cell_seeds() const {
    return finetune_seeds.empty() ? std::vector<int64_t>{seed} : finetune_seeds;
  }

  bool operator==(const GridSpec&) const = default;
  template <class V> void visit(V& v) {
    v("name", name, {.required = true});
    v("archs", archs, {.choices = {"transformer", "lightconv", "dynamicconv", "dilatedconv"}});
    v("rows", rows, {.choices = {"scratch", "pretrained"}});
    v("datasets", datasets, {.required = true});
    v("tokenizer", tokenizer, {.required = true});
    v("model", model, {.required = true});
    v("pretrain", pretrain);
    v("pretrain_from", pretrain_from);
    v("finetune", finetune, {.required = true});
    v("seed", seed);
    v("finetune_seeds", finetune_seeds);
    v("output_dir", output_dir);
    v("results_dir", results_dir);
  }
};

struct GridConfig {
  GridSpec grid;

  template <class V> void visit(V& v) { v.section("grid", grid); }
};

// Loads, overrides, type-checks and validates. Throws ConfigError naming source, line and key.
Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
Config load_config(const YamlTree& tree);

// A config merged from several files in order (later files override earlier ones), then overrides.
Config load_config(const std::vector<std::filesystem::path>& paths, const std::vector<std::string>& overrides);

// A grid file (see GridSpec); unknown keys and missing files are errors naming file and line.
GridConfig load_grid_config(const std::filesystem::path& path);
// `file` with "{arch}" and "{dataset}" replaced.
std::string expand_grid_path(std::string file, const std::string& arch, const std::string& dataset);

// The fully resolved config as YAML (every field, defaults included); loads back to an equal Config.
std::string to_yaml(const Config& config);

// A field of one section whose resolved value differs between two configs, both values as to_yaml writes them.
struct FieldDifference {
  std::string field, before, after;  // field: "<section>.<name>", e.g. "finetune.learning_rate"
};
// The fields of the top-level `section` ("model", "finetune", ...) whose values differ, in to_yaml's order.
std::vector<FieldDifference> section_differences(const Config& before, const Config& after,
                                                 const std::string& section);

}  // namespace convpt::config
