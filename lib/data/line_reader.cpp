#include "data/line_reader.h"

#include <unistd.h>
#include <zlib.h>

#include <cstring>

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
  if (path == "-") {
    path_ = "standard input";
    const int fd = ::dup(STDIN_FILENO);  // gzclose closes it: standard input itself stays open
    if (fd >= 0) file_ = gzdopen(fd, "rb");
    if (!file_) {
      if (fd >= 0) ::close(fd);
      throw DataError(path_, 0, "cannot read");
    }
  } else {
    if (!std::filesystem::is_regular_file(path)) throw DataError(path, 0, "no such file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw DataError(path, 0, "cannot open");
  }
  gzbuffer(static_cast<gzFile>(file_), 1 << 20);
}

LineReader::~LineReader() {
  if (file_) gzclose(static_cast<gzFile>(file_));
}

bool LineReader::next(std::string& line) {
  line.clear();
  bool ended = false;  // by a '\n'
  while (!ended && (begin_ < end_ || fill())) {
    const char* begin = buffer_.data() + begin_;
    const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', end_ - begin_));
    ended = newline != nullptr;
    const char* end = ended ? newline : buffer_.data() + end_;
    line.append(begin, end);
    begin_ = static_cast<size_t>(end - buffer_.data()) + (ended ? 1 : 0);
  }
  if (!ended && line.empty()) return false;
  ++line_number_;
  // Text data holds no NUL: one means a binary or UTF-16 file, or damage, never a row to keep or to cut there.
  if (line.find('\0') != std::string::npos) fail("NUL byte in the line (not a text file, or a damaged one?)");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line_number_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // a byte order mark is not text
  return true;
}

bool LineReader::fill() {
  const auto file = static_cast<gzFile>(file_);
  const int bytes = gzread(file, buffer_.data(), static_cast<unsigned>(buffer_.size()));
  if (bytes > 0) {
    begin_ = 0;
    end_ = static_cast<size_t>(bytes);
    return true;
  }
  int status = Z_OK;
  std::string message = gzerror(file, &status);
  // zlib reports a stream that stops before its end (cut short, or without the 8-byte trailer) as Z_BUF_ERROR and,
  // so that a file still being written can be read, otherwise like the end of the data.
  if (status == Z_BUF_ERROR) throw DataError(path_, line_number_ + 1, "truncated gzip stream (the file ends early)");
  if (status != Z_OK) {
    const std::string named = path_.string() + ": ";  // zlib names the file, as DataError does already
    if (message.starts_with(named)) message.erase(0, named.size());
    throw DataError(path_, line_number_ + 1, message);
  }
  return false;
}

}  // namespace convpt::data
