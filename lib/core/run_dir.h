#pragma once
// One directory per run: resolved config, log, metrics, checkpoints and results live together.
#include <filesystem>
#include <string>

#include "config/config.h"

namespace convpt {

// How a run directory is taken up again: its finished results reused as they are (reproduce's cache), or its
// training continued (--resume), which may add steps.
enum class RunReuse { finished_results, resume };

class RunDir {
 public:
  // Creates <run.output_dir>/<run.name> (name defaults to "<command>-<arch>-<UTC time>"), refusing to reuse a
  // directory that already holds a run unless `allow_existing` (resume), and then only the same run (see
  // how_run_differs). Writes run.json (the command, and `init_weights`: the fingerprint of the weights a fine-tuning
  // starts from, "" for none) and config.yaml, starts log.txt.
  static RunDir create(const config::Config& config, const std::string& command, bool allow_existing = false,
                       const std::string& init_weights = "");

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  explicit RunDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// Why the run in `dir` is not the run that `config` and `command` describe: another command or run.seed; another
// model, or a setting of the command's section that changes the weights or their selection (all but logging and
// checkpointing; on resume, steps may grow); for fine-tuning, another task or initial weights (`init_weights`, as
// RunDir::create records them; runs that record none pass). "" when it is the same run. Reads dir's run.json and
// config.yaml.
std::string how_run_differs(const std::filesystem::path& dir, const config::Config& config, const std::string& command,
                            const std::string& init_weights, RunReuse reuse);

// An exclusive advisory lock (flock) on the file `path`, created if missing, held while the object lives. The
// kernel drops it when the holder exits, killed or not, so an interrupted run never leaves a stale lock. Several
// `convpt reproduce` processes share a grid through one lock per run directory.
class RunLock {
 public:
  enum class Mode { wait, try_once };
  // With Mode::try_once, returns at once; held() says whether another process had it. I/O errors name the file.
  RunLock(const std::filesystem::path& path, Mode mode);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

// The current UTC time as YYYYMMDD-HHMMSS, for default run names.
std::string utc_timestamp();

}  // namespace convpt
