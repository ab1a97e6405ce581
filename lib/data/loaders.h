#pragma once
// Row readers behind the tasks: each turns one file format into rows of (text, raw label), streaming. tasks.cpp
// maps raw labels to label words, carves dev splits and skips malformed rows; the formats know nothing of tasks.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "data/csv.h"

namespace convpt::data {

// One row of a dataset before its label is mapped to a label word.
struct Row {
  std::string text;
  std::string label;  // as written in the file ("0", "ENTY", "0.83"); empty where the format has none
  int64_t line = 0;   // the line the row starts on; 0 in one-file-per-example layouts
};

class RowReader {
 public:
  virtual ~RowReader() = default;
  // The next row, or false at the end. Throws MalformedRow for a bad row (already consumed) and DataError when
  // reading cannot go on.
  virtual bool next(Row& row) = 0;
  virtual const std::filesystem::path& path() const = 0;  // the file the last row came from
};

// A table column, by header name or by 0-based index.
struct Column {
  Column(const char* column_name) : name(column_name) {}
  Column(std::string column_name) : name(std::move(column_name)) {}
  Column(int column_index) : index(column_index) {}
  std::string name;
  int index = -1;
};

// CSV or TSV. The text is the text columns joined by a space (empty ones left out); the label is one column.
struct TableSpec {
  CsvOptions csv = {};
  bool header = false;  // the first record names the columns and fixes the field count
  size_t fields = 0;    // without a header: the field count of every record (0: that of the first record)
  std::vector<Column> text = {};
  Column label = 0;
  // AG News: a backslash stands for a line break and becomes a space (runs of them: one space); `\$` is `$`.
  bool backslash_breaks = false;
};

// JSON lines, one object per line. The label field may be a string or a number (kept as written).
struct JsonlSpec {
  std::string text = "text";
  std::string label;  // empty: no label (pre-training corpora)
};

// TREC `COARSE:fine question` lines; the raw label is the coarse code ("ENTY"), or the whole code when `fine`.
struct TrecSpec {
  bool fine = false;
};

// The aclImdb layout <dir>/<class>/{id}_{rating}.txt, read class by class, each by numeric id (the order of the
// shipped TSVs). Runs of TAB/CR/LF become one space and the ends are trimmed, as in the TSV conversion
// (MANIFEST.md), so both layouts give the same text.
struct AclImdbSpec {
  std::vector<std::pair<std::string, std::string>> classes;  // subdirectory -> raw label
};

// Plain text: documents separated by empty (or blank) lines; a document's lines are joined with "\n".
struct TextSpec {};

using Format = std::variant<TableSpec, JsonlSpec, TrecSpec, AclImdbSpec, TextSpec>;

// Every setting of a format as text, for fingerprints of a task's data (Task::fingerprint): formats that read a file
// differently describe differently. A new setting in a spec must be added here.
std::string describe(const Format& format);

// Throws DataError if `path` is missing (or, for a table with a header, if a named column is not in it).
std::unique_ptr<RowReader> open_rows(const std::filesystem::path& path, const Format& format);

// Replaces every byte that does not begin a valid UTF-8 sequence (RFC 3629: no overlong forms, surrogates or code
// points above U+10FFFF) by a space; the following bytes are looked at afresh. TREC's "sister\xF0city" becomes
// "sister city", as HF's loader reads it. Every task's text goes through this.
void repair_utf8(std::string& text);

// The values of the named top-level fields of one JSON object: strings decoded (all escapes, \uXXXX with surrogate
// pairs; a lone surrogate becomes U+FFFD), numbers and true/false as written; nullopt where absent or null.
// Throws std::invalid_argument for invalid JSON or a named field holding an object or array.
std::vector<std::optional<std::string>> json_fields(std::string_view object, const std::vector<std::string>& names);

}  // namespace convpt::data
