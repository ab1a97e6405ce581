#include "data/loaders.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "core/files.h"
#include "core/json.h"
#include "core/text.h"

namespace convpt::data {
namespace fs = std::filesystem;

namespace {

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// AG News fields: see TableSpec::backslash_breaks. "costs US\$5\bn" -> "costs US$5 bn".
std::string unescape_backslash_breaks(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size();) {
    if (field[i] != '\\') {
      out += field[i++];
      continue;
    }
    const size_t run_end = std::min(field.find_first_not_of('\\', i), field.size());
    const bool escapes_dollar = run_end < field.size() && field[run_end] == '$';
    if (run_end - i > 1 || !escapes_dollar) out += ' ';  // the last backslash before `$` escapes it, others break
    i = run_end;
  }
  const size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(' ') + 1 - first);  // a break at either end is only layout
}

class TableReader final : public RowReader {
 public:
  TableReader(const fs::path& path, TableSpec spec) : csv_(path, spec.csv), spec_(std::move(spec)) {
    if (spec_.header) {
      std::vector<std::string> header;
      if (csv_.next(header)) resolve(header);  // an empty file has no rows; the task reports it
    } else if (spec_.fields) {
      resolve(std::vector<std::string>(spec_.fields));
    }
  }

  bool next(Row& row) override {
    if (!csv_.next(fields_)) return false;
    if (!resolved_) resolve(fields_);  // headerless with no declared field count: the first record fixes it
    row.line = csv_.record_line();
    row.label = fields_[label_];
    row.text.clear();
    for (const size_t column : text_) {
      const std::string part =
          spec_.backslash_breaks ? unescape_backslash_breaks(fields_[column]) : std::move(fields_[column]);
      if (part.empty()) continue;
      if (!row.text.empty()) row.text += ' ';
      row.text += part;
    }
    return true;
  }

  const fs::path& path() const override { return csv_.path(); }

 private:
  // Column names -> indexes against the header (or a record of the right width when there is none).
  void resolve(const std::vector<std::string>& header) {
    const auto index_of = [&](const Column& column) -> size_t {
      if (column.name.empty()) {
        if (static_cast<size_t>(column.index) >= header.size())
          throw DataError(path(), csv_.record_line(),
                          "no column " + std::to_string(column.index) + ": records have " +
                              std::to_string(header.size()) + " fields");
        return static_cast<size_t>(column.index);
      }
      if (!spec_.header) throw DataError(path(), 0, "column '" + column.name + "' is named but the file has no header");
      const auto it = std::find(header.begin(), header.end(), column.name);
      if (it == header.end()) {
        throw DataError(path(), csv_.record_line(),
                        "no column '" + column.name + "' in the header (" + join(header) + ")");
      }
      return static_cast<size_t>(it - header.begin());
    };
    text_.clear();
    for (const auto& column : spec_.text) text_.push_back(index_of(column));
    label_ = index_of(spec_.label);
    csv_.set_expected_fields(header.size());
    resolved_ = true;
  }

  CsvReader csv_;
  TableSpec spec_;
  bool resolved_ = false;
  std::vector<size_t> text_;
  size_t label_ = 0;
  std::vector<std::string> fields_;
};

class JsonlReader final : public RowReader {
 public:
  JsonlReader(const fs::path& path, const JsonlSpec& spec) : lines_(path), names_{spec.text} {
    if (!spec.label.empty()) names_.push_back(spec.label);
  }

  bool next(Row& row) override {
    while (lines_.next(line_)) {
      if (is_blank(line_)) continue;
      row.line = lines_.line_number();
      std::vector<std::optional<std::string>> values;
      try {
        values = json_fields(line_, names_);
      } catch (const std::invalid_argument& e) {
        throw MalformedRow(path(), row.line, std::string("invalid JSON: ") + e.what());
      }
      for (size_t i = 0; i < names_.size(); ++i)
        if (!values[i]) throw MalformedRow(path(), row.line, "no \"" + names_[i] + "\" field");
      row.text = std::move(*values[0]);
      row.label = names_.size() > 1 ? std::move(*values[1]) : std::string();
      return true;
    }
    return false;
  }

  const fs::path& path() const override { return lines_.path(); }

 private:
  LineReader lines_;
  std::vector<std::string> names_;  // text field, then the label field if any
  std::string line_;
};

class TrecReader final : public RowReader {
 public:
  TrecReader(const fs::path& path, TrecSpec spec) : lines_(path), spec_(spec) {}

  bool next(Row& row) override {
    while (lines_.next(line_)) {
      if (line_.empty()) continue;
      row.line = lines_.line_number();
      const size_t space = line_.find(' ');
      const size_t colon = line_.find(':');
      if (space == std::string::npos || colon == 0 || colon > space || space + 1 == line_.size())
        throw MalformedRow(path(), row.line, "expected 'COARSE:fine question'");
      row.label = line_.substr(0, spec_.fine ? space : colon);
      row.text = line_.substr(space + 1);
      return true;
    }
    return false;
  }

  const fs::path& path() const override { return lines_.path(); }

 private:
  LineReader lines_;
  TrecSpec spec_;
  std::string line_;
};

class AclImdbReader final : public RowReader {
 public:
  AclImdbReader(const fs::path& root, AclImdbSpec spec) : spec_(std::move(spec)), path_(root) {
    for (size_t c = 0; c < spec_.classes.size(); ++c) {
      const fs::path dir = root / spec_.classes[c].first;
      if (!fs::is_directory(dir)) throw DataError(dir, 0, "no such directory");
      const size_t before = files_.size();
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        // {id}_{rating}.txt; other names sort last in their class and are reported as malformed when reached.
        const std::optional<int64_t> id = file_id(entry.path());
        files_.push_back({c, !id, id.value_or(0), entry.path()});
      }
      if (files_.size() == before) throw DataError(dir, 0, "empty directory: no reviews of this class");
    }
    std::sort(files_.begin(), files_.end(), [](const File& a, const File& b) {
      return std::tie(a.class_index, a.misnamed, a.id, a.path) < std::tie(b.class_index, b.misnamed, b.id, b.path);
    });
  }

  bool next(Row& row) override {
    if (next_ == files_.size()) return false;
    const File& file = files_[next_++];
    path_ = file.path;
    if (file.misnamed) throw MalformedRow(path_, 0, "expected a file named {id}_{rating}.txt");
    const std::optional<std::string> text = read_file(path_);
    if (!text) throw DataError(path_, 0, "cannot open");
    row.text = squeeze_line_breaks(*text);
    row.label = spec_.classes[file.class_index].second;
    row.line = 0;
    return true;
  }

  const fs::path& path() const override { return path_; }

 private:
  struct File {
    size_t class_index;
    bool misnamed;
    int64_t id;
    fs::path path;
  };

  // The id of a file named {id}_{rating}.txt.
  static std::optional<int64_t> file_id(const fs::path& path) {
    const std::string stem = path.stem().string();
    const size_t underscore = stem.find('_');
    if (path.extension() != ".txt" || underscore == std::string::npos || !is_digits(stem.substr(underscore + 1)))
      return std::nullopt;
    int64_t id = 0;
    const auto [end, error] = std::from_chars(stem.data(), stem.data() + underscore, id);
    if (error != std::errc() || end != stem.data() + underscore) return std::nullopt;
    return id;
  }

  static std::string squeeze_line_breaks(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      const size_t run_end = std::min(text.find_first_not_of("\t\r\n", i), text.size());
      if (run_end > i) {
        out += ' ';
        i = run_end;
      } else {
        out += text[i++];
      }
    }
    const size_t first = out.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return out.substr(first, out.find_last_not_of(" \t\r\n") + 1 - first);
  }

  AclImdbSpec spec_;
  std::vector<File> files_;
  size_t next_ = 0;
  fs::path path_;
};

class TextReader final : public RowReader {
 public:
  explicit TextReader(const fs::path& path) : lines_(path) {}

  bool next(Row& row) override {
    row.text.clear();
    row.label.clear();
    while (lines_.next(line_)) {
      if (is_blank(line_)) {
        if (!row.text.empty()) return true;
        continue;
      }
      if (row.text.empty()) row.line = lines_.line_number();
      else row.text += '\n';
      row.text += line_;
    }
    return !row.text.empty();
  }

  const fs::path& path() const override { return lines_.path(); }

 private:
  LineReader lines_;
  std::string line_;
};

std::unique_ptr<RowReader> make_reader(const fs::path& path, const TableSpec& spec) {
  return std::make_unique<TableReader>(path, spec);
}
std::unique_ptr<RowReader> make_reader(const fs::path& path, const JsonlSpec& spec) {
  return std::make_unique<JsonlReader>(path, spec);
}
std::unique_ptr<RowReader> make_reader(const fs::path& path, const TrecSpec& spec) {
  return std::make_unique<TrecReader>(path, spec);
}
std::unique_ptr<RowReader> make_reader(const fs::path& path, const AclImdbSpec& spec) {
  return std::make_unique<AclImdbReader>(path, spec);
}
std::unique_ptr<RowReader> make_reader(const fs::path& path, const TextSpec&) {
  return std::make_unique<TextReader>(path);
}

std::string describe(const Column& column) {
  return column.name.empty() ? std::to_string(column.index) : json::quote(column.name);
}
std::string describe(const TableSpec& spec) {
  std::string text = "table delimiter=" + std::to_string(int(spec.csv.delimiter)) +
                     " quoting=" + std::to_string(spec.csv.quoting) + " header=" + std::to_string(spec.header) +
                     " fields=" + std::to_string(spec.fields) + " text=";
  for (const auto& column : spec.text) text += describe(column) + ",";
  return text + " label=" + describe(spec.label) + " backslash_breaks=" + std::to_string(spec.backslash_breaks);
}
std::string describe(const JsonlSpec& spec) {
  return "jsonl text=" + json::quote(spec.text) + " label=" + json::quote(spec.label);
}
std::string describe(const TrecSpec& spec) { return "trec fine=" + std::to_string(spec.fine); }
std::string describe(const AclImdbSpec& spec) {
  std::string text = "aclImdb";
  for (const auto& [directory, label] : spec.classes)
    text.append(" ").append(json::quote(directory) + "=" + json::quote(label));
  return text;
}
std::string describe(const TextSpec&) { return "text"; }

// Length of the valid UTF-8 sequence starting at text[i], or 0 if none does.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u; };
  const unsigned lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t k = 2; k < length; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  return length;
}

}  // namespace

std::unique_ptr<RowReader> open_rows(const fs::path& path, const Format& format) {
  return std::visit([&](const auto& spec) { return make_reader(path, spec); }, format);
}

std::string describe(const Format& format) {
  return std::visit([](const auto& spec) { return describe(spec); }, format);
}

void repair_utf8(std::string& text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
    } else if (const size_t length = utf8_sequence_length(text, i)) {
      i += length;
    } else {
      text[i++] = ' ';
    }
  }
}

std::vector<std::optional<std::string>> json_fields(std::string_view object, const std::vector<std::string>& names) {
  const json::Value parsed = json::parse(object);
  std::vector<std::optional<std::string>> values(names.size());
  for (const auto& [key, value] : parsed.members()) {
    const auto it = std::find(names.begin(), names.end(), key);
    if (it == names.end() || value.is_null()) continue;
    if (value.is_array() || value.is_object())
      throw std::invalid_argument("field \"" + key + "\" is not a string or number");
    values[static_cast<size_t>(it - names.begin())] = value.text();
  }
  return values;
}

}  // namespace convpt::data
