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
constexpr const char* kRunRecord = "run.json";  // {"command": "pretrain" | "finetune"}

// The command that made the run in `dir`: its run.json, or the results.json of a run older than that record; ""
// when neither says.
std::string recorded_command(const fs::path& dir) {
  for (const char* file : {kRunRecord, "results.json"}) {
    if (!fs::exists(dir / file)) continue;
    const json::Value record = json::parse_file(dir / file);
    if (const json::Value* command = record.find("command"); command && command->is_string())
      return command->as_string();
  }
  return "";
}

// --resume goes on with the same run: the command that made it and, for fine-tuning, the same task and initial
// weights (the trainer checks the model against the checkpoint it resumes from).
void check_same_run(const fs::path& dir, const config::Config& config, const std::string& command) {
  const std::string made_by = recorded_command(dir);
  if (!made_by.empty() && made_by != command)
    throw std::runtime_error("run directory " + dir.string() + " holds a " + made_by + " run, which " + command +
                             " --resume cannot continue; choose another run.name");
  if (command != "finetune") return;
  const config::FinetuneConfig before = config::load_config(dir / "config.yaml").finetune;
  const config::FinetuneConfig& now = config.finetune;
  if (before.task != now.task || before.init != now.init)
    throw std::runtime_error("run directory " + dir.string() + " holds fine-tuning on task '" + before.task +
                             "' from init '" + before.init + "', not on task '" + now.task + "' from init '" +
                             now.init + "'; choose another run.name");
}
}  // namespace

RunDir RunDir::create(const config::Config& config, const std::string& command, bool allow_existing) {
  const std::string name =
      config.run.name.empty() ? command + "-" + config.model.arch + "-" + utc_timestamp() : config.run.name;
  const fs::path path = fs::path(config.run.output_dir) / name;
  if (fs::exists(path / "config.yaml")) {
    if (!allow_existing)
      throw std::runtime_error("run directory " + path.string() +
                               " already holds a run; choose another run.name or resume it");
    check_same_run(path, config, command);
  }
  fs::create_directories(path);
  write_file_atomically(path / kRunRecord, "{\"command\": " + json::quote(command) + "}\n");
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
