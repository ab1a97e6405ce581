#include "data/line_reader.h"

#include <zlib.h>

namespace convpt::data {

namespace {
std::string locate(const std::filesystem::path& file, int64_t line) {
  std::string where = file.string();
  if (line > 0) where.append(":").append(std::to_string(line));
  return where;
}
}  // namespace

DataError::DataError(const std::filesystem::path& file, int64_t line, const std::string& what)
    : std::runtime_error(locate(file, line) + ": " + what) {}

LineReader::LineReader(const std::filesystem::path& path) : path_(path) {
  if (!std::filesystem::is_regular_file(path)) throw DataError(path, 0, "no such file");
  file_ = gzopen(path.c_str(), "rb");
  if (!file_) throw DataError(path, 0, "cannot open");
  gzbuffer(static_cast<gzFile>(file_), 1 << 20);
}

LineReader::~LineReader() {
  if (file_) gzclose(static_cast<gzFile>(file_));
}

bool LineReader::next(std::string& line) {
  line.clear();
  char buffer[1 << 16];
  const auto file = static_cast<gzFile>(file_);
  while (gzgets(file, buffer, sizeof buffer)) {
    line += buffer;
    if (!line.empty() && line.back() == '\n') break;  // otherwise the line was longer than the buffer
  }
  if (line.empty()) {
    int status = Z_OK;
    const char* message = gzerror(file, &status);
    if (status != Z_OK && status != Z_BUF_ERROR) throw DataError(path_, line_number_ + 1, message);
    return false;
  }
  ++line_number_;
  if (line.back() == '\n') line.pop_back();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

}  // namespace convpt::data
