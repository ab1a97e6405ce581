#pragma once
// Logging facade over spdlog. It exposes no spdlog/fmt types on purpose: LibTorch bundles fmt 12 while
// Debian's spdlog is built against fmt 9, so only log.cpp (compiled without LibTorch's headers) sees spdlog.
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>

namespace convpt::log {

enum class Level { trace, debug, info, warn, error, off };

// Parses "trace|debug|info|warn|error|off"; throws std::invalid_argument naming the bad value.
Level parse_level(std::string_view name);

// Console logger (stderr). Call once at start-up; later calls change the level.
void init(Level level);
// Puts `label` (e.g. "[rank 1]") in front of every console line, so that the processes of one run can share a
// terminal.
void set_label(const std::string& label);
// Adds `path` as a second sink that records everything at debug level and above.
void add_file_sink(const std::filesystem::path& path);
void write(Level level, const std::string& message);

template <class... Args> std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
template <class... Args> void debug(const Args&... args) { write(Level::debug, cat(args...)); }
template <class... Args> void info(const Args&... args) { write(Level::info, cat(args...)); }
template <class... Args> void warn(const Args&... args) { write(Level::warn, cat(args...)); }
template <class... Args> void error(const Args&... args) { write(Level::error, cat(args...)); }

}  // namespace convpt::log
