#include "training/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <sstream>

#include "core/build_info.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "training/safetensors.h"

namespace convpt::training {
namespace fs = std::filesystem;

namespace {
constexpr const char* kLatest = "latest";

std::string read_text(const fs::path& path) {
  std::optional<std::string> text = read_file(path);
  if (!text) throw std::runtime_error("checkpoint file missing: " + path.string());
  return std::move(*text);
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) ::fsync(fd), ::close(fd);
}

const std::regex kStepName(R"(step-(\d+))");
}  // namespace

StateDict named_state(const torch::nn::Module& module) {
  StateDict state;
  for (const auto& item : module.named_parameters()) state[item.key()] = item.value();
  for (const auto& item : module.named_buffers()) state[item.key()] = item.value();
  return state;
}

void load_named_state(torch::nn::Module& module, const StateDict& state) {
  torch::NoGradGuard no_grad;
  std::set<std::string> expected;
  auto restore = [&](const std::string& name, torch::Tensor& target) {
    expected.insert(name);
    const auto it = state.find(name);
    if (it == state.end()) throw std::runtime_error("checkpoint has no tensor '" + name + "'");
    if (it->second.sizes() != target.sizes())
      throw std::runtime_error("checkpoint tensor '" + name + "' has shape " + c10::str(it->second.sizes()) +
                               ", the model expects " + c10::str(target.sizes()));
    target.copy_(it->second);
  };
  for (auto& item : module.named_parameters()) restore(item.key(), item.value());
  for (auto& item : module.named_buffers()) restore(item.key(), item.value());
  for (const auto& [name, tensor] : state)
    if (!expected.count(name)) throw std::runtime_error("checkpoint tensor '" + name + "' is not part of the model");
}

fs::path save_checkpoint(const fs::path& checkpoints_dir, const CheckpointContents& c, int64_t keep) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(c.step));
  const fs::path final_dir = checkpoints_dir / name;
  const fs::path partial = checkpoints_dir / (std::string(name) + ".partial");
  fs::remove_all(partial);
  fs::create_directories(partial);
  save_safetensors(partial / "model.safetensors", c.model, {{"format", "pt"}, {"arch", c.config.model.arch}});
  StateDict trainer;
  for (const auto& [key, tensor] : c.optimizer) trainer["optimizer/" + key] = tensor;
  for (const auto& [name, state] : c.rng) trainer["rng/" + name] = state;
  save_safetensors(partial / "trainer.safetensors", trainer);
  write_file_atomically(partial / "config.yaml", config::to_yaml(c.config));
  std::ostringstream meta;
  meta << "{\n  \"format\": \"convpt-checkpoint-1\",\n  \"step\": " << c.step << ",\n  \"arch\": "
       << json::quote(c.config.model.arch) << ",\n  \"data_state\": " << json::quote(c.data_state)
       << ",\n  \"tokenizer_fingerprint\": " << json::quote(c.tokenizer_fingerprint) << ",\n  \"best_evaluation\": {";
  for (auto it = c.best_evaluation.begin(); it != c.best_evaluation.end(); ++it)
    meta << (it == c.best_evaluation.begin() ? "" : ", ") << json::quote(it->first) << ": " << json::number(it->second);
  meta << "},\n  \"convpt_version\": " << json::quote(CONVPT_VERSION) << ",\n  \"convpt_commit\": "
       << json::quote(git_commit()) << "\n}\n";
  write_file_atomically(partial / "meta.json", meta.str());
  sync_directory(partial);
  fs::remove_all(final_dir);
  fs::rename(partial, final_dir);
  sync_directory(checkpoints_dir);
  write_file_atomically(checkpoints_dir / kLatest, std::string(name) + "\n");

  std::vector<fs::path> complete;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir))
    if (entry.is_directory() && std::regex_match(entry.path().filename().string(), kStepName))
      complete.push_back(entry.path());
  std::sort(complete.begin(), complete.end());
  for (size_t i = 0; i + keep < complete.size(); ++i) fs::remove_all(complete[i]);
  return final_dir;
}

namespace {
// The checkpoint that `<holder>/latest` names, if the pointer exists.
std::optional<fs::path> pointed_checkpoint(const fs::path& holder) {
  const fs::path pointer = holder / kLatest;
  if (!fs::exists(pointer)) return std::nullopt;
  std::string name = read_text(pointer);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  return holder / name;
}
}  // namespace

void check_same_tokenizer(const CheckpointContents& contents, const std::string& checkpoint,
                          const std::string& fingerprint, const std::string& tokenizer) {
  if (contents.tokenizer_fingerprint.empty()) {
    log::warn("checkpoint ", checkpoint, " does not record its tokenizer (an older convpt wrote it): taken to be ",
              tokenizer, "'s, unchecked");
    return;
  }
  if (contents.tokenizer_fingerprint == fingerprint) return;
  throw std::runtime_error("checkpoint " + checkpoint + " was trained on the ids of tokenizer " +
                           contents.tokenizer_fingerprint + ", but " + tokenizer + " is " + fingerprint +
                           ": the same ids would stand for other pieces (use the tokenizer it was trained with)");
}

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) { return pointed_checkpoint(run_dir / "checkpoints"); }

fs::path resolve_checkpoint(const fs::path& path) {
  // A checkpoint itself, a directory of checkpoints (checkpoints/ or best/, with a `latest` pointer), or a run.
  if (fs::exists(path / "meta.json")) return path;
  const auto pointed = pointed_checkpoint(path) ? pointed_checkpoint(path) : latest_checkpoint(path);
  if (!pointed) throw std::runtime_error("no checkpoint found in " + path.string());
  return *pointed;
}

std::string weights_fingerprint(const fs::path& path) {
  return fnv1a64_fingerprint_of(hash_file(resolve_checkpoint(path) / "model.safetensors"));
}

CheckpointContents load_checkpoint(const fs::path& path) {
  const fs::path dir = resolve_checkpoint(path);
  CheckpointContents c;
  try {
    const json::Value meta = json::parse(read_text(dir / "meta.json"));
    c.step = meta.at("step").as_int64();
    c.data_state = meta.at("data_state").as_string();
    if (const json::Value* tokenizer = meta.find("tokenizer_fingerprint")) c.tokenizer_fingerprint = tokenizer->as_string();
    if (const json::Value* best = meta.find("best_evaluation"))
      for (const auto& [key, value] : best->members()) c.best_evaluation[key] = value.as_double();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("corrupt checkpoint file " + (dir / "meta.json").string() + ": " + e.what());
  }
  c.config = config::load_config(dir / "config.yaml");
  c.model = load_safetensors(dir / "model.safetensors");
  for (const auto& [key, tensor] : load_safetensors(dir / "trainer.safetensors")) {
    if (key.rfind("optimizer/", 0) == 0) c.optimizer[key.substr(10)] = tensor;
    if (key.rfind("rng/", 0) == 0) c.rng[key.substr(4)] = tensor;
  }
  return c;
}

std::string model_differences(const config::ModelConfig& checkpoint, const config::ModelConfig& wanted) {
  config::Config a, b;
  a.model = checkpoint;
  b.model = wanted;
  std::string out;
  for (const auto& d : config::section_differences(a, b, "model"))
    if (d.field != "model.dropout")  // a training setting, not part of the weights
      out += d.field + ": checkpoint " + d.before + ", config " + d.after + "\n";
  return out;
}

}  // namespace convpt::training
