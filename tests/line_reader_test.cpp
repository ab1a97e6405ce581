// The line reader under every loader: plain and gzip files, LF and CRLF, long lines, missing files, cut or corrupt
// gzip streams.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <fstream>

#include "data/line_reader.h"
#include "temp_dir.h"

using Catch::Matchers::Contains;
using convpt::data::DataError;
using convpt::data::LineReader;

namespace {
std::vector<std::string> read_all(const std::filesystem::path& path) {
  LineReader reader(path);
  std::vector<std::string> lines;
  for (std::string line; reader.next(line);) lines.push_back(line);
  return lines;
}

void write_gz(const std::filesystem::path& path, const std::string& text) {
  gzFile out = gzopen(path.c_str(), "wb");
  gzwrite(out, text.data(), static_cast<unsigned>(text.size()));
  gzclose(out);
}

std::string bytes_of(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("plain files: LF, CRLF, empty lines, no final newline", "[line_reader]") {
  convpt::test::TempDir dir;
  CHECK(read_all(dir.write("a.txt", "one\r\ntwo\n\nthree")) == std::vector<std::string>{"one", "two", "", "three"});
}

TEST_CASE("a UTF-8 byte order mark is dropped from the first line only", "[line_reader]") {
  convpt::test::TempDir dir;
  CHECK(read_all(dir.write("bom.txt", "\xEF\xBB\xBFNUM:date When ?\n\xEF\xBB\xBFkept\n")) ==
        std::vector<std::string>{"NUM:date When ?", "\xEF\xBB\xBFkept"});
}

TEST_CASE("gzip files read the same and long lines survive the buffer", "[line_reader]") {
  convpt::test::TempDir dir;
  const std::string long_line(200000, 'x');
  const auto path = dir.path() / "a.txt.gz";
  write_gz(path, "first\n" + long_line + "\nlast\n");
  LineReader reader(path);
  std::string line;
  REQUIRE(reader.next(line));
  CHECK(line == "first");
  REQUIRE(reader.next(line));
  CHECK(line == long_line);
  CHECK(reader.line_number() == 2);
  REQUIRE(reader.next(line));
  CHECK(line == "last");
  CHECK_FALSE(reader.next(line));
}

TEST_CASE("missing files and data errors name the file and line", "[line_reader]") {
  convpt::test::TempDir dir;
  CHECK_THROWS_WITH(LineReader(dir.path() / "none.txt"), Catch::Contains("none.txt: no such file"));
  LineReader reader(dir.write("b.txt", "a\nb\n"));
  std::string line;
  reader.next(line);
  reader.next(line);
  CHECK_THROWS_WITH(reader.fail("bad row"), Catch::Contains("b.txt:2: bad row"));
}

TEST_CASE("a gzip stream cut short or without its trailer is an error, not the end of the file", "[line_reader]") {
  convpt::test::TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + "\tsome text, compressed\n";
  write_gz(dir.path() / "whole.gz", text);
  CHECK(read_all(dir.path() / "whole.gz").size() == 20000);
  const std::string bytes = bytes_of(dir.path() / "whole.gz");
  // Cut in the middle (as `head -c`), before the 8-byte trailer (CRC and length), and inside it.
  for (const size_t cut : {bytes.size() / 2, bytes.size() - 8, bytes.size() - 3}) {
    const auto file = dir.write("cut.gz", bytes.substr(0, cut));
    CHECK_THROWS_WITH(read_all(file), Contains("cut.gz:") && Contains(": truncated gzip stream"));
  }
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 8] ^= 1;  // the CRC
  const auto file = dir.write("crc.gz", corrupt);
  CHECK_THROWS_WITH(read_all(file), Contains(file.string() + ":") && Contains(": incorrect data check") &&
                                        !Contains(": " + file.string()));  // the file is named once
}

TEST_CASE("a NUL byte is an error naming file and line, in plain and gzip files", "[line_reader]") {
  convpt::test::TempDir dir;
  const std::string text("good\t1\nbad\0\t0\nnext\t1\n", 22);  // once read as "bad" + "next\t1": two rows as one
  CHECK_THROWS_WITH(read_all(dir.write("nul.tsv", text)), Contains("nul.tsv:2: NUL byte"));
  write_gz(dir.path() / "nul.tsv.gz", text);
  CHECK_THROWS_WITH(read_all(dir.path() / "nul.tsv.gz"), Contains("nul.tsv.gz:2: NUL byte"));
}
