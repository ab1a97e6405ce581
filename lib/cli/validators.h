#pragma once
// Bounds of numeric flags, with messages that state them: CLI11's PositiveNumber and NonNegativeNumber print their
// range as doubles ("Value 0 not in range 0.000000 to 17976931348623157...").
#include <CLI/CLI.hpp>

#include <cmath>
#include <sstream>
#include <string>

namespace convpt::cli {

// The flag's value must be a finite number >= minimum ("--nproc: must be >= 1, got 0").
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

}  // namespace convpt::cli
