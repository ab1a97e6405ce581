#include "config/config.h"

#include "core/text.h"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <set>
#include <sstream>

namespace convpt::config {
namespace {

std::string describe(const YAML::Node& node) {
  if (node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "'" + node.Scalar() + "'";
}

// Reads each visited field from the tree, checking its type; remembers what it consumed.
class Reader {
 public:
  explicit Reader(const YamlTree& tree) : tree_(tree) {}

  template <class Section> void section(const char* name, Section& s) {
    prefix_ = name;
    consumed_.insert(prefix_);
    const YAML::Node node = tree_.find(prefix_);
    if (node && !node.IsMap()) fail(prefix_, "must be a mapping, got " + describe(node));
    s.visit(*this);
  }

  template <class T> void operator()(const char* name, T& value, const FieldSpec& spec = {}) {
    const std::string key = prefix_ + "." + name;
    consumed_.insert(key);
    const YAML::Node node = tree_.find(key);
    if (!node) {
      if (spec.required) missing_.push_back(key);
      return;
    }
    value = convert<T>(node, key);
    check_choices(value, key, spec);
  }

  // After the visit: keys present in the tree that no field consumed (the first by file order), then required
  // fields that are missing. Unknown keys come first: a misspelt section or key is why a required one is missing.
  void check_keys() const {
    std::vector<std::string> unknown;
    for (const auto& key : tree_.all_keys())
      if (!consumed_.count(key)) unknown.push_back(key);
    if (!unknown.empty()) {
      const auto first = std::min_element(unknown.begin(), unknown.end(), [&](const auto& a, const auto& b) {
        return tree_.origin_of(a).line < tree_.origin_of(b).line;
      });
      fail(*first, "unknown key" + suggestion(*first));
    }
    if (!missing_.empty()) fail(missing_.front(), "required field is missing");
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(tree_.origin_of(key), key, what);
  }

  template <class T> T convert(const YAML::Node& node, const std::string& key) const {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!node.IsScalar()) fail(key, "expected a string, got " + describe(node));
      return node.Scalar();
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<std::string>>) {
      if (!node.IsSequence()) fail(key, "expected a list, got " + describe(node));
      T out;
      for (size_t i = 0; i < node.size(); ++i)
        out.push_back(convert<typename T::value_type>(node[i], key + "[" + std::to_string(i) + "]"));
      return out;
    } else {
      static_assert(std::is_same_v<T, int64_t> || std::is_same_v<T, double>);
      const char* expected = std::is_same_v<T, int64_t> ? "an integer" : "a number";
      if (!node.IsScalar()) fail(key, std::string("expected ") + expected + ", got " + describe(node));
      T parsed;
      if (!YAML::convert<T>::decode(node, parsed))
        fail(key, std::string("expected ") + expected + ", got " + describe(node));
      if constexpr (std::is_same_v<T, double>)  // no setting means anything at .inf or .nan
        if (!std::isfinite(parsed)) fail(key, "expected a finite number, got " + describe(node));
      return parsed;
    }
  }

  template <class T> void check_choices(const T& value, const std::string& key, const FieldSpec& spec) const {
    if (spec.choices.empty()) return;
    std::vector<std::string> values;
    if constexpr (std::is_same_v<T, std::string>) values = {value};
    else if constexpr (std::is_same_v<T, std::vector<std::string>>) values = value;
    for (const auto& v : values)
      if (std::find(spec.choices.begin(), spec.choices.end(), v) == spec.choices.end()) {
        fail(key, "'" + v + "' is not one of: " + join(spec.choices));
      }
  }

  std::string suggestion(const std::string& key) const {
    // The known key with the smallest edit distance, when it is a plausible typo.
    const auto distance = [](const std::string& a, const std::string& b) {
      std::vector<size_t> row(b.size() + 1);
      for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
      for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
          const size_t above = row[j];
          row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
          diagonal = above;
        }
      }
      return row[b.size()];
    };
    std::string best;
    size_t best_distance = 3;
    for (const auto& known : consumed_)
      if (const size_t d = distance(key, known); d < best_distance) best = known, best_distance = d;
    return best.empty() ? "" : " (did you mean '" + best + "'?)";
  }

  const YamlTree& tree_;
  std::string prefix_;
  std::set<std::string> consumed_;
  std::vector<std::string> missing_;  // required fields, in visiting order
};

std::string format_number(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round-trip form
  return std::string(buffer, result.ptr);
}

class Writer {
 public:
  explicit Writer(YAML::Emitter& out) : out_(out) {}

  template <class Section> void section(const char* name, Section& s) {
    out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    s.visit(*this);
    out_ << YAML::EndMap;
  }

  template <class T> void operator()(const char* name, T& value, const FieldSpec& = {}) {
    out_ << YAML::Key << name << YAML::Value;
    if constexpr (std::is_same_v<T, double>) {
      out_ << format_number(value);
    } else if constexpr (std::is_same_v<T, std::string>) {
      out_ << YAML::DoubleQuoted << value;
    } else if constexpr (std::is_same_v<T, int64_t>) {
      out_ << value;
    } else {
      out_ << YAML::Flow << YAML::BeginSeq;
      for (const auto& item : value) out_ << item;
      out_ << YAML::EndSeq;
    }
  }

 private:
  YAML::Emitter& out_;
};

// Cross-field rules and value ranges. `at` names the key whose origin the error points to.
class Validator {
 public:
  explicit Validator(const YamlTree& tree) : tree_(tree) {}

  // `against`: the other key of a cross-field rule; where it was set elsewhere, the message says where too.
  void require(bool ok, const std::string& key, const std::string& what, const std::string& against = "") const {
    if (ok) return;
    const Origin where = tree_.origin_of(key);
    std::string message = what;
    if (!against.empty()) {
      const Origin other = tree_.origin_of(against);
      if (other.source != where.source || other.line != where.line)
        message += " (" + against + " from " + other.describe() + ")";
    }
    throw ConfigError(where, key, message);
  }
  void positive(int64_t value, const std::string& key) const { require(value > 0, key, "must be > 0, got " + std::to_string(value)); }
  void non_negative(int64_t value, const std::string& key) const { require(value >= 0, key, "must be >= 0, got " + std::to_string(value)); }
  void non_negative(double value, const std::string& key) const { require(value >= 0, key, "must be >= 0, got " + format_number(value)); }

  void per_layer_list(const std::vector<int64_t>& values, const ModelConfig& m, const std::string& key) const {
    require(!values.empty(), key, "must not be empty");
    if (values.size() > 1) {
      require(m.encoder_layers == m.decoder_layers, key,
              "per-layer lists need encoder_layers == decoder_layers (they apply to both stacks)",
              "model.decoder_layers");
      require(static_cast<int64_t>(values.size()) == m.encoder_layers, key,
              "has " + std::to_string(values.size()) + " values; give one for all layers or one per layer (" +
                  std::to_string(m.encoder_layers) + ")", "model.encoder_layers");
    }
    for (size_t i = 0; i < values.size(); ++i) positive(values[i], key + "[" + std::to_string(i) + "]");
  }

  void train(const TrainConfig& t, const std::string& section) const {
    positive(t.steps, section + ".steps");
    positive(t.batch_size, section + ".batch_size");
    positive(t.grad_accumulation, section + ".grad_accumulation");
    require(t.learning_rate > 0, section + ".learning_rate", "must be > 0");
    non_negative(t.warmup_steps, section + ".warmup_steps");
    non_negative(t.weight_decay, section + ".weight_decay");
    require(t.optimizer != "adafactor" || t.weight_decay == 0, section + ".weight_decay",
            "must be 0 with adafactor (it has no weight decay)", section + ".optimizer");
    non_negative(t.clip_grad_norm, section + ".clip_grad_norm");
    non_negative(t.z_loss, section + ".z_loss");
    positive(t.log_every, section + ".log_every");
    positive(t.eval_every, section + ".eval_every");
    positive(t.checkpoint_every, section + ".checkpoint_every");
    positive(t.keep_checkpoints, section + ".keep_checkpoints");
  }

  void operator()(const Config& c) const {
    non_negative(c.run.seed, "run.seed");
    non_negative(c.run.threads, "run.threads");
    require(c.run.threads <= kMaxThreads, "run.threads", "must be <= " + std::to_string(kMaxThreads) + ", got " +
                                                          std::to_string(c.run.threads));
    positive(c.run.dist_timeout_s, "run.dist_timeout_s");

    const ModelConfig& m = c.model;
    positive(m.vocab_size, "model.vocab_size");
    positive(m.d_model, "model.d_model");
    positive(m.d_ff, "model.d_ff");
    positive(m.num_heads, "model.num_heads");
    positive(m.d_kv, "model.d_kv");
    require(m.d_model % m.num_heads == 0, "model.num_heads",
            "d_model (" + std::to_string(m.d_model) + ") is not divisible by num_heads (" +
                std::to_string(m.num_heads) + ")", "model.d_model");
    positive(m.encoder_layers, "model.encoder_layers");
    positive(m.decoder_layers, "model.decoder_layers");
    require(m.dropout >= 0 && m.dropout < 1, "model.dropout", "must be in [0, 1)");
    require(m.norm_epsilon > 0, "model.norm_epsilon", "must be > 0");
    require(m.relative_attention_buckets >= 2, "model.relative_attention_buckets", "must be >= 2");
    positive(m.relative_attention_max_distance, "model.relative_attention_max_distance");
    positive(m.max_positions, "model.max_positions");
    non_negative(m.conv_heads, "model.conv_heads");
    require(m.conv_heads == 0 || m.d_model % m.conv_heads == 0, "model.conv_heads",
            "d_model (" + std::to_string(m.d_model) + ") is not divisible by conv_heads (" +
                std::to_string(m.conv_heads) + ")", "model.d_model");
    per_layer_list(m.kernel_sizes, m, "model.kernel_sizes");
    per_layer_list(m.dilations, m, "model.dilations");
    require(m.arch == "dilatedconv" ||
                std::all_of(m.dilations.begin(), m.dilations.end(), [](int64_t d) { return d == 1; }),
            "model.dilations", "dilation > 1 needs arch: dilatedconv (got arch: " + m.arch + ")", "model.arch");

    non_negative(c.data.sentinels, "data.sentinels");
    require(c.data.sentinels < m.vocab_size, "data.sentinels", "must be smaller than model.vocab_size",
            "model.vocab_size");
    require(c.data.vocab_pieces > 3, "data.vocab_pieces", "must be > 3 (pad, eos and unk take ids 0-2), got " +
                                                               std::to_string(c.data.vocab_pieces));
    require(c.data.vocab_pieces + c.data.sentinels <= m.vocab_size, "data.vocab_pieces",
            "pieces (" + std::to_string(c.data.vocab_pieces) + ") + sentinels (" + std::to_string(c.data.sentinels) +
                ") exceed model.vocab_size (" + std::to_string(m.vocab_size) + ")", "model.vocab_size");
    positive(c.data.tokenizer_sample_lines, "data.tokenizer_sample_lines");
    positive(c.data.tokenizer_threads, "data.tokenizer_threads");
    require(!c.data.train_corpus.empty(), "data.train_corpus", "must not be empty");

    train(c.pretrain, "pretrain");
    positive(c.pretrain.input_length, "pretrain.input_length");
    positive(c.pretrain.target_length, "pretrain.target_length");
    positive(c.pretrain.eval_batches, "pretrain.eval_batches");
    require(c.pretrain.noise_density > 0 && c.pretrain.noise_density < 1, "pretrain.noise_density",
            "must be in (0, 1)");
    require(c.pretrain.mean_noise_span_length >= 1, "pretrain.mean_noise_span_length", "must be >= 1");

    train(c.finetune, "finetune");
    positive(c.finetune.input_length, "finetune.input_length");
    positive(c.finetune.target_length, "finetune.target_length");

    require(!c.bench.archs.empty(), "bench.archs", "must not be empty");
    require(!c.bench.seq_lengths.empty(), "bench.seq_lengths", "must not be empty");
    for (size_t i = 0; i < c.bench.seq_lengths.size(); ++i)
      positive(c.bench.seq_lengths[i], "bench.seq_lengths[" + std::to_string(i) + "]");
    positive(c.bench.batch_size, "bench.batch_size");
    positive(c.bench.target_length, "bench.target_length");
    positive(c.bench.decode_steps, "bench.decode_steps");
    non_negative(c.bench.warmup, "bench.warmup");
    positive(c.bench.repeats, "bench.repeats");
    non_negative(c.bench.max_memory_gb, "bench.max_memory_gb");
    if (!c.bench.dilatedconv_kernel_sizes.empty())
      per_layer_list(c.bench.dilatedconv_kernel_sizes, m, "bench.dilatedconv_kernel_sizes");
    if (!c.bench.dilatedconv_dilations.empty())
      per_layer_list(c.bench.dilatedconv_dilations, m, "bench.dilatedconv_dilations");
  }

 private:
  const YamlTree& tree_;
};

}  // namespace

Config load_config(const YamlTree& tree) {
  Config config;
  Reader reader(tree);
  config.visit(reader);
  reader.check_keys();
  if (config.data.vocab_pieces == 0)  // the largest multiple of 100 that fits below the sentinels
    config.data.vocab_pieces = (config.model.vocab_size - config.data.sentinels) / 100 * 100;
  Validator{tree}(config);
  return config;
}

Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  YamlTree tree = YamlTree::from_file(path);
  for (const auto& assignment : overrides) tree.apply_override(assignment);
  return load_config(tree);
}

Config load_config(const std::vector<std::filesystem::path>& paths, const std::vector<std::string>& overrides) {
  YamlTree tree = YamlTree::from_files(paths);
  for (const auto& assignment : overrides) tree.apply_override(assignment);
  return load_config(tree);
}

namespace {

// `follow_source`: check grid.pretrain_from's grid against this one (that grid is read without following its own,
// so that a cycle ends in an error, not a loop).
GridConfig load_grid(const std::filesystem::path& path, bool follow_source) {
  const YamlTree tree = YamlTree::from_file(path);
  GridConfig config;
  Reader reader(tree);
  config.visit(reader);
  reader.check_keys();
  const GridSpec& g = config.grid;
  const Validator check{tree};
  // The name is a directory under output_dir and results_dir: one plain name, not a path.
  check.require(!g.name.empty() && g.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                        std::string::npos && g.name != "." && g.name != "..",
                "grid.name", "must be a plain directory name (letters, digits, '.', '_', '-'), not '" + g.name + "'");
  check.require(!g.archs.empty(), "grid.archs", "must not be empty");
  check.require(!g.rows.empty(), "grid.rows", "must not be empty");
  check.require(!g.datasets.empty(), "grid.datasets", "must not be empty");
  const bool pretrained = std::find(g.rows.begin(), g.rows.end(), "pretrained") != g.rows.end();
  // A file a grid names, as a path from here (canonical, so that two spellings of one file compare equal).
  const auto resolved = [](const std::filesystem::path& grid_file, const std::string& file, const std::string& arch,
                           const std::string& dataset = "") {
    return std::filesystem::weakly_canonical(grid_file.parent_path() / expand_grid_path(file, arch, dataset));
  };
  if (g.pretrain_from.empty()) {
    check.require(!pretrained || !g.pretrain.empty(), "grid.pretrain", "the pretrained row needs pre-training files");
  } else {
    check.require(g.pretrain.empty(), "grid.pretrain", "must be empty: the pre-trainings are grid.pretrain_from's");
  }
  if (!g.pretrain_from.empty() && follow_source) {
    const std::filesystem::path source_file = path.parent_path() / g.pretrain_from;
    check.require(std::filesystem::exists(source_file), "grid.pretrain_from", "file not found: " + source_file.string());
    const GridSpec source = load_grid(source_file, false).grid;
    check.require(source.pretrain_from.empty(), "grid.pretrain_from",
                  source_file.string() + " takes its pre-trainings from another grid in turn; name that one");
    check.require(!source.pretrain.empty(), "grid.pretrain_from", source_file.string() + " has no pre-training files");
    check.require(g.name != source.name, "grid.name",
                  "must differ from grid.pretrain_from's (" + source.name + "): the cells would share run directories");
    check.require(resolved(path, g.tokenizer, "") == resolved(source_file, source.tokenizer, ""), "grid.tokenizer",
                  "must be the tokenizer config of grid.pretrain_from (" + source_file.string() + ")");
    for (const std::string& arch : g.archs) {
      check.require(std::find(source.archs.begin(), source.archs.end(), arch) != source.archs.end(), "grid.archs",
                    arch + " is not pre-trained by grid.pretrain_from (" + source_file.string() + ")");
      check.require(resolved(path, g.model, arch) == resolved(source_file, source.model, arch), "grid.model",
                    "must be the model file of grid.pretrain_from (" + source_file.string() + ") for " + arch);
    }
  }
  check.non_negative(g.seed, "grid.seed");
  for (const int64_t seed : g.finetune_seeds) check.non_negative(seed, "grid.finetune_seeds");
  // A list that names one thing twice would run its cells twice and count their results twice.
  const auto once_each = [&](const auto& items, const std::string& key, const std::string& what) {
    for (size_t i = 0; i < items.size(); ++i) {
      std::ostringstream item;
      item << items[i];
      check.require(std::find(items.begin(), items.begin() + i, items[i]) == items.begin() + i, key,
                    "lists " + what + item.str() + " twice");
    }
  };
  once_each(g.finetune_seeds, "grid.finetune_seeds", "seed ");
  once_each(g.archs, "grid.archs", "");
  once_each(g.rows, "grid.rows", "");
  once_each(g.datasets, "grid.datasets", "");
  auto exists = [&](const std::string& file, const std::string& key) {
    for (const std::string& arch : g.archs)
      for (const std::string& dataset : g.datasets) {
        const std::filesystem::path found = resolved(path, file, arch, dataset);
        check.require(std::filesystem::exists(found), key, "file not found: " + found.string());
      }
  };
  exists(g.tokenizer, "grid.tokenizer");
  exists(g.model, "grid.model");
  for (const auto& file : g.pretrain) exists(file, "grid.pretrain");
  for (const auto& file : g.finetune) exists(file, "grid.finetune");
  return config;
}

}  // namespace

GridConfig load_grid_config(const std::filesystem::path& path) { return load_grid(path, true); }

std::string expand_grid_path(std::string file, const std::string& arch, const std::string& dataset) {
  for (const auto& [key, value] : {std::pair{std::string("{arch}"), arch}, {"{dataset}", dataset}})
    for (size_t at = file.find(key); at != std::string::npos; at = file.find(key, at + value.size()))
      file.replace(at, key.size(), value);
  return file;
}

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Writer writer(out);
  Config copy = config;  // visit() is shared with Reader, so it takes a mutable config
  copy.visit(writer);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<FieldDifference> section_differences(const Config& before, const Config& after,
                                                 const std::string& section) {
  const YAML::Node a = YAML::Load(to_yaml(before))[section], b = YAML::Load(to_yaml(after))[section];
  if (!a.IsMap() || !b.IsMap()) throw std::logic_error("section_differences: no config section '" + section + "'");
  std::vector<FieldDifference> out;
  for (const auto& field : a) {
    const std::string name = field.first.as<std::string>();
    // One line each, as written (a sequence is written in flow style).
    const std::string value_before = YAML::Dump(field.second), value_after = YAML::Dump(b[name]);
    if (value_before != value_after) out.push_back({section + "." + name, value_before, value_after});
  }
  return out;
}

}  // namespace convpt::config
