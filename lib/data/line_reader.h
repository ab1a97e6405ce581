#pragma once
// Streaming line reader for plain or gzip-compressed files (zlib reads both), the base of every dataset loader.
// Never loads a whole corpus: one line at a time, with its 1-based line number for error messages.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace convpt::data {

// A problem with input data. The message starts with "file:line: " (or "file: " when no line applies).
struct DataError : std::runtime_error {
  DataError(const std::filesystem::path& file, int64_t line, const std::string& what);
};

class LineReader {
 public:
  // Throws DataError if the file is missing or unreadable. "-" reads standard input (named so in errors).
  explicit LineReader(const std::filesystem::path& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads the next line without its "\n" or "\r\n" (and the first without a UTF-8 byte order mark, as Windows
  // editors write); false at the end of the file. Bytes are returned as they are (no UTF-8 validation here: loaders
  // decide how to treat invalid bytes). Throws DataError for a corrupt or truncated gzip stream, so that a cut file
  // is never read as a complete one, and for a NUL byte in a line.
  bool next(std::string& line);
  int64_t line_number() const { return line_number_; }  // of the line last returned
  const std::filesystem::path& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const { throw DataError(path_, line_number_, what); }

 private:
  std::filesystem::path path_;
  void* file_ = nullptr;  // gzFile
  int64_t line_number_ = 0;
  std::vector<char> buffer_ = std::vector<char>(1 << 16);  // decompressed bytes; [begin_, end_) not yet returned
  size_t begin_ = 0, end_ = 0;
  bool fill();  // refills buffer_; false at the end of the file
};

}  // namespace convpt::data
