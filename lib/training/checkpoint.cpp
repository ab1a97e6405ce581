#include "training/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/build_info.h"
#include "core/run_dir.h"
#include "training/safetensors.h"

namespace convpt::training {
namespace fs = std::filesystem;

namespace {
constexpr const char* kLatest = "latest";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("checkpoint file missing: " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// meta.json holds flat string and integer fields only; this reads one of them back.
std::string json_field(const std::string& json, const std::string& key, const fs::path& file) {
  const std::regex pattern("\"" + key + "\": (\"((\\\\.|[^\"\\\\])*)\"|(-?[0-9]+))");
  std::smatch match;
  if (!std::regex_search(json, match, pattern)) throw std::runtime_error("checkpoint " + file.string() + " lacks '" + key + "'");
  if (match[4].matched) return match[4].str();
  return std::regex_replace(match[2].str(), std::regex(R"(\\(.))"), "$1");
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
  trainer["rng/cpu"] = c.rng_state;
  save_safetensors(partial / "trainer.safetensors", trainer);
  write_file_atomically(partial / "config.yaml", config::to_yaml(c.config));
  std::ostringstream meta;
  meta << "{\n  \"format\": \"convpt-checkpoint-1\",\n  \"step\": " << c.step << ",\n  \"arch\": \""
       << json_escape(c.config.model.arch) << "\",\n  \"data_state\": \"" << json_escape(c.data_state)
       << "\",\n  \"convpt_version\": \"" << CONVPT_VERSION << "\",\n  \"convpt_commit\": \"" << CONVPT_GIT_COMMIT
       << "\"\n}\n";
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

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  const fs::path pointer = run_dir / "checkpoints" / kLatest;
  if (!fs::exists(pointer)) return std::nullopt;
  std::string name = read_text(pointer);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  return run_dir / "checkpoints" / name;
}

CheckpointContents load_checkpoint(const fs::path& path) {
  fs::path dir = path;
  if (!fs::exists(dir / "meta.json")) {
    const fs::path run = fs::exists(dir / "checkpoints") ? dir : dir.parent_path();
    const auto latest = latest_checkpoint(run);
    if (!latest) throw std::runtime_error("no checkpoint found in " + path.string());
    dir = *latest;
  }
  CheckpointContents c;
  const std::string meta = read_text(dir / "meta.json");
  c.step = std::stoll(json_field(meta, "step", dir / "meta.json"));
  c.data_state = json_field(meta, "data_state", dir / "meta.json");
  c.config = config::load_config(dir / "config.yaml");
  c.model = load_safetensors(dir / "model.safetensors");
  for (const auto& [key, tensor] : load_safetensors(dir / "trainer.safetensors")) {
    if (key.rfind("optimizer/", 0) == 0) c.optimizer[key.substr(10)] = tensor;
    if (key == "rng/cpu") c.rng_state = tensor;
  }
  return c;
}

std::string model_differences(const config::ModelConfig& checkpoint, const config::ModelConfig& wanted) {
  // Compare the resolved YAML of both model sections line by line: one semantics, whatever fields exist.
  auto lines = [](const config::ModelConfig& model) {
    config::Config c;
    c.model = model;
    std::istringstream yaml(config::to_yaml(c));
    std::map<std::string, std::string> values;
    bool in_model = false;
    for (std::string line; std::getline(yaml, line);) {
      if (!line.empty() && line[0] != ' ') in_model = line == "model:";
      else if (in_model) values[line.substr(2, line.find(':') - 2)] = line.substr(line.find(':') + 2);
    }
    return values;
  };
  const auto a = lines(checkpoint), b = lines(wanted);
  std::string out;
  for (const auto& [key, value] : a)
    if (key != "dropout" && b.at(key) != value)  // dropout is a training setting, not part of the weights
      out += "model." + key + ": checkpoint " + value + ", config " + b.at(key) + "\n";
  return out;
}

}  // namespace convpt::training
