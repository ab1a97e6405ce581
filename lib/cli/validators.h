#pragma once
// Bounds of numeric flags, with messages that state them: CLI11's PositiveNumber and NonNegativeNumber print their
// range as doubles ("Value 0 not in range 0.000000 to 17976931348623157..."), and its integer parsing clamps values
// beyond the type's range.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

namespace convpt::cli {

// The flag's value must be a finite number >= minimum ("--grace-s: must be >= 0, got -1").
inline CLI::Validator at_least(double minimum) {
  std::ostringstream bound;
  bound << minimum;
  return CLI::Validator(
      [minimum, bound = bound.str()](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value))
          return "expected a number, got '" + text + "'";
        return value >= minimum ? "" : "must be >= " + bound + ", got " + text;
      },
      ">=" + bound.str(), "at least " + bound.str());
}

// The flag's value must be a whole number in [minimum, maximum] ("--nproc: must be >= 1, got 0"); one beyond
// int64 is an error, not a clamp. Checks each element of a list option.
inline CLI::Validator integer_in(int64_t minimum, int64_t maximum = std::numeric_limits<int64_t>::max()) {
  const std::string range = maximum == std::numeric_limits<int64_t>::max()
                                ? ">=" + std::to_string(minimum)
                                : std::to_string(minimum) + ".." + std::to_string(maximum);
  return CLI::Validator(
      [minimum, maximum](std::string& text) -> std::string {
        int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error == std::errc::result_out_of_range) return "is out of range: " + text;
        if (error != std::errc() || end != text.data() + text.size())
          return "expected a whole number, got '" + text + "'";
        if (value < minimum) return "must be >= " + std::to_string(minimum) + ", got " + text;
        if (value > maximum) return "must be <= " + std::to_string(maximum) + ", got " + text;
        return "";
      },
      range, "integer " + range);
}

}  // namespace convpt::cli
