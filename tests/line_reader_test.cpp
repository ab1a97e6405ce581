// The line reader under every loader: plain and gzip files, LF and CRLF, long lines, missing files.
#include <catch2/catch.hpp>

#include <zlib.h>

#include "data/line_reader.h"
#include "temp_dir.h"

using convpt::data::DataError;
using convpt::data::LineReader;

namespace {
std::vector<std::string> read_all(const std::filesystem::path& path) {
  LineReader reader(path);
  std::vector<std::string> lines;
  for (std::string line; reader.next(line);) lines.push_back(line);
  return lines;
}
}  // namespace

TEST_CASE("plain files: LF, CRLF, empty lines, no final newline", "[line_reader]") {
  convpt::test::TempDir dir;
  CHECK(read_all(dir.write("a.txt", "one\r\ntwo\n\nthree")) == std::vector<std::string>{"one", "two", "", "three"});
}

TEST_CASE("gzip files read the same and long lines survive the buffer", "[line_reader]") {
  convpt::test::TempDir dir;
  const std::string long_line(200000, 'x');
  const auto path = dir.path() / "a.txt.gz";
  gzFile out = gzopen(path.c_str(), "wb");
  const std::string text = "first\n" + long_line + "\nlast\n";
  gzwrite(out, text.data(), static_cast<unsigned>(text.size()));
  gzclose(out);
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
