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

RunDir RunDir::create(const config::Config& config, const std::string& command, bool allow_existing) {
  const std::string name =
      config.run.name.empty() ? command + "-" + config.model.arch + "-" + utc_timestamp() : config.run.name;
  const fs::path path = fs::path(config.run.output_dir) / name;
  if (fs::exists(path / "config.yaml") && !allow_existing)
    throw std::runtime_error("run directory " + path.string() +
                             " already holds a run; choose another run.name or resume it");
  fs::create_directories(path);
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
