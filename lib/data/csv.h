#pragma once
// Delimiter-separated records (CSV, TSV) over LineReader: the one parser every table loader uses.
//
// With quoting on it follows RFC 4180: a field that starts with `"` is quoted, `""` inside it is one `"`, and it may
// hold delimiters and line breaks (a record then spans several lines; a CRLF inside a field becomes "\n", because
// LineReader strips line ends). A `"` inside an unquoted field is kept as it is (as Python's csv module does).
// With quoting off (GLUE TSV) every byte is literal. Empty lines between records are not records.
#include <string>
#include <vector>

#include "data/line_reader.h"

namespace convpt::data {

// A bad row that the reader has already consumed, so reading can go on after it (ReadOptions::skip_malformed).
// Other DataErrors (missing file, corrupt gzip stream) end reading.
struct MalformedRow : DataError {
  using DataError::DataError;
};

struct CsvOptions {
  char delimiter = ',';
  bool quoting = true;
};

class CsvReader {
 public:
  explicit CsvReader(const std::filesystem::path& path, CsvOptions options = {});

  // The next record, or false at the end. Throws MalformedRow for an unterminated quoted field, a character after a
  // closing quote, or a field count other than expected_fields (when set).
  bool next(std::vector<std::string>& fields);
  void set_expected_fields(size_t count) { expected_fields_ = count; }

  int64_t record_line() const { return record_line_; }  // the line the record last returned starts on
  const std::filesystem::path& path() const { return lines_.path(); }
  [[noreturn]] void fail(const std::string& what) const { throw MalformedRow(path(), record_line_, what); }

 private:
  LineReader lines_;
  CsvOptions options_;
  size_t expected_fields_ = 0;  // 0: any
  int64_t record_line_ = 0;
  std::string line_;
};

}  // namespace convpt::data
