#pragma once
// One directory per run: resolved config, log, metrics, checkpoints and results live together.
#include <filesystem>
#include <string>

#include "config/config.h"

namespace convpt {

class RunDir {
 public:
  // Creates <run.output_dir>/<run.name> (name defaults to "<command>-<arch>-<UTC time>"), refusing to reuse a
  // directory that already holds a run unless `allow_existing` (resume). Writes config.yaml and starts log.txt.
  static RunDir create(const config::Config& config, const std::string& command, bool allow_existing = false);

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  explicit RunDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync, rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& contents);

// The current UTC time as YYYYMMDD-HHMMSS, for default run names.
std::string utc_timestamp();

}  // namespace convpt
