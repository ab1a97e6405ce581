#include "data/csv.h"

namespace convpt::data {

CsvReader::CsvReader(const std::filesystem::path& path, CsvOptions options) : lines_(path), options_(options) {}

bool CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  do {
    if (!lines_.next(line_)) return false;
  } while (line_.empty());
  record_line_ = lines_.line_number();

  const char delimiter = options_.delimiter;
  size_t i = 0;
  for (;;) {
    std::string& field = fields.emplace_back();
    if (options_.quoting && i < line_.size() && line_[i] == '"') {
      ++i;
      for (;;) {
        const size_t quote = line_.find('"', i);
        if (quote == std::string::npos) {  // the field goes on on the next line
          field.append(line_, i);
          if (!lines_.next(line_)) fail("unterminated quoted field (the file ends inside it)");
          field += '\n';
          i = 0;
          continue;
        }
        field.append(line_, i, quote - i);
        i = quote + 1;
        if (i < line_.size() && line_[i] == '"') {
          field += '"';
          ++i;
        } else {
          break;
        }
      }
      if (i < line_.size() && line_[i] != delimiter)
        fail(std::string("unexpected character '") + line_[i] + "' after a closing quote");
    } else {
      const size_t end = std::min(line_.find(delimiter, i), line_.size());
      field.append(line_, i, end - i);
      i = end;
    }
    if (i == line_.size()) break;
    ++i;  // the delimiter
  }
  if (expected_fields_ && fields.size() != expected_fields_)
    fail("expected " + std::to_string(expected_fields_) + " fields, found " + std::to_string(fields.size()));
  return true;
}

}  // namespace convpt::data
