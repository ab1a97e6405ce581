// The shared JSON reader: document model, typed access with clear errors, quoting and numbers that round-trip.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "core/json.h"
#include "temp_dir.h"

using namespace convpt;
using Catch::Matchers::Contains;

TEST_CASE("JSON documents: objects keep order, arrays, scalars, exact integers", "[json]") {
  const json::Value v = json::parse(R"( {"b": [1, 2.5, "x", true, null], "a": {"n": 9007199254740993}} )");
  REQUIRE(v.is_object());
  CHECK(v.members()[0].first == "b");
  CHECK(v.members()[1].first == "a");
  const auto& items = v.at("b").items();
  REQUIRE(items.size() == 5);
  CHECK(items[0].as_int64() == 1);
  CHECK(items[1].as_double() == 2.5);
  CHECK(items[2].as_string() == "x");
  CHECK(items[3].as_bool());
  CHECK(items[4].is_null());
  CHECK(v.at("a").at("n").as_int64() == 9007199254740993);  // beyond double precision: read from the text
  CHECK(v.find("absent") == nullptr);
}

TEST_CASE("JSON typed access and syntax errors say what is wrong and where", "[json]") {
  const json::Value v = json::parse(R"({"s": "text", "f": 1.5})");
  CHECK_THROWS_WITH(v.at("s").as_double(), Contains("expected a number, found a string"));
  CHECK_THROWS_WITH(v.at("f").as_int64(), Contains("expected an integer, found 1.5"));
  CHECK_THROWS_WITH(v.at("missing"), Contains("missing key \"missing\""));
  CHECK_THROWS_WITH(json::parse("[1, 2"), Contains("expected ',' or ']' at column 6"));
  CHECK_THROWS_WITH(json::parse("{\"a\": 1-2}"), Contains("malformed number"));
  CHECK_THROWS_WITH(json::parse(""), Contains("expected a value at column 1"));
  CHECK_THROWS_WITH(json::parse(std::string(1000, '[')), Contains("nesting deeper than"));
  CHECK_THROWS_AS(json::parse("{} {}"), json::ParseError);
}

TEST_CASE("JSON files: the value, or an error naming the file", "[json]") {
  const test::TempDir dir;
  CHECK(json::parse_file(dir.write("ok.json", R"({"wall_seconds": 12.5})")).at("wall_seconds").as_double() == 12.5);
  const auto broken = dir.write("broken.json", "{\"a\": ");
  CHECK_THROWS_WITH(json::parse_file(broken), Contains(broken.string() + ": expected a value at column 7"));
  CHECK_THROWS_WITH(json::parse_file(dir.path() / "absent.json"), Contains("cannot read") && Contains("absent.json"));
}

TEST_CASE("JSON quoting and numbers read back to what was written", "[json]") {
  const std::string text = "quote \" backslash \\ newline \n tab \t bell \x07 é";
  CHECK(json::parse(json::quote(text)).as_string() == text);
  for (const double x : {0.1, 1.0 / 3.0, -2.5e-300, 12345678.0})
    CHECK(json::parse(json::number(x)).as_double() == x);
  CHECK(json::number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(json::number(INFINITY) == "null");
}
