#include "core/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"

namespace convpt {
namespace fs = std::filesystem;

RunLock::RunLock(const fs::path& path, Mode mode) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io_error("cannot open the lock file", path);
  int rc;
  while ((rc = ::flock(fd_, LOCK_EX | (mode == Mode::try_once ? LOCK_NB : 0))) != 0 && errno == EINTR) {
  }
  if (rc == 0) {
    held_ = true;
  } else if (errno != EWOULDBLOCK) {
    const int error = errno;
    ::close(fd_);
    errno = error;
    throw_io_error("cannot lock", path);
  }
}

RunLock::~RunLock() { ::close(fd_); }  // closing the descriptor drops the lock

namespace {
constexpr const char* kRunRecord = "run.json";  // {"command": "pretrain" | "finetune", "init_weights": ...}

// A string the run in `dir` records under `key`: its run.json, or the results.json of a run older than that record;
// "" when neither says.
std::string recorded(const fs::path& dir, const std::string& key) {
  for (const char* file : {kRunRecord, "results.json"}) {
    if (!fs::exists(dir / file)) continue;
    const json::Value record = json::parse_file(dir / file);
    if (const json::Value* value = record.find(key); value && value->is_string()) return value->as_string();
  }
  return "";
}

// Fields that change neither the weights nor which of them are kept.
bool bookkeeping(const std::string& name) {
  return name == "log_every" || name == "checkpoint_every" || name == "keep_checkpoints";
}

}  // namespace

std::string how_run_differs(const fs::path& dir, const config::Config& config, const std::string& command,
                            const std::string& init_weights, RunReuse reuse) {
  const std::string made_by = recorded(dir, "command");
  if (!made_by.empty() && made_by != command) return "holds a " + made_by + " run, not a " + command + " run";
  const config::Config before = config::load_config(dir / "config.yaml");
  if (before.run.seed != config.run.seed)
    return "holds a run seeded " + std::to_string(before.run.seed) + ", not " + std::to_string(config.run.seed);
  if (command == "finetune" && (before.finetune.task != config.finetune.task ||
                                before.finetune.init != config.finetune.init))
    return "holds fine-tuning on task '" + before.finetune.task + "' from init '" + before.finetune.init +
           "', not on task '" + config.finetune.task + "' from init '" + config.finetune.init + "'";
  std::vector<std::string> changed;
  for (const std::string& section : {std::string("model"), command})
    for (const auto& d : config::section_differences(before, config, section)) {
      const std::string name = d.field.substr(section.size() + 1);
      if (bookkeeping(name) || (reuse == RunReuse::resume && name == "steps") || d.field == "finetune.task" ||
          d.field == "finetune.init")
        continue;
      changed.push_back(d.field + " " + d.before + ", not " + d.after);
    }
  if (!changed.empty()) return "holds a run with " + join(changed, "; ");
  if (const std::string started_from = recorded(dir, "init_weights");
      !init_weights.empty() && !started_from.empty() && started_from != init_weights)
    return "holds fine-tuning from other weights than " + config.finetune.init + " holds now (" + started_from +
           ", now " + init_weights + ")";
  return "";
}

RunDir RunDir::create(const config::Config& config, const std::string& command, bool allow_existing,
                      const std::string& init_weights) {
  const std::string name =
      config.run.name.empty() ? command + "-" + config.model.arch + "-" + utc_timestamp() : config.run.name;
  const fs::path path = fs::path(config.run.output_dir) / name;
  if (fs::exists(path / "config.yaml")) {
    if (!allow_existing)
      throw std::runtime_error("run directory " + path.string() +
                               " already holds a run; choose another run.name or resume it");
    if (const std::string differs = how_run_differs(path, config, command, init_weights, RunReuse::resume);
        !differs.empty())
      throw std::runtime_error("run directory " + path.string() + " " + differs + ", which " + command +
                               " --resume cannot continue; choose another run.name");
  }
  fs::create_directories(path);
  std::string record = "{\"command\": " + json::quote(command);
  if (!init_weights.empty()) record += ", \"init_weights\": " + json::quote(init_weights);
  write_file_atomically(path / kRunRecord, record + "}\n");
  write_file_atomically(path / "config.yaml", config::to_yaml(config));
  log::add_file_sink(path / "log.txt");
  log::info("run directory: ", path.string());
  return RunDir(path);
}

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", &tm);
  return buffer;
}

}  // namespace convpt
