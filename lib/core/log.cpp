#include "core/log.h"

#include <stdexcept>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace convpt::log {
namespace {
std::string console_pattern(const std::string& label) {
  return "[%H:%M:%S] " + (label.empty() ? "" : label + " ") + "%^%l%$ %v";
}

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern(console_pattern(""));
    auto created = std::make_shared<spdlog::logger>("convpt", console);
    created->set_level(spdlog::level::info);
    return created;
  }();
  return instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}
}  // namespace

Level parse_level(std::string_view name) {
  if (name == "trace") return Level::trace;
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  throw std::invalid_argument("unknown log level '" + std::string(name) + "' (trace|debug|info|warn|error|off)");
}

void init(Level level) {
  // The console shows `level`; file sinks keep debug and above, so the logger itself passes the lower of both.
  auto& log = logger();
  log->sinks().front()->set_level(to_spdlog(level));
  log->set_level(std::min(to_spdlog(level), spdlog::level::debug));
  log->flush_on(spdlog::level::warn);
}

void set_label(const std::string& label) { logger()->sinks().front()->set_pattern(console_pattern(label)); }

void add_file_sink(const std::filesystem::path& path) {
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), /*truncate=*/false);
  file->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  file->set_level(spdlog::level::debug);
  logger()->sinks().push_back(file);
  logger()->flush_on(spdlog::level::info);
}

void write(Level level, const std::string& message) { logger()->log(to_spdlog(level), message); }

}  // namespace convpt::log
