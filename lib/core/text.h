#pragma once
// Small string helpers shared by messages and files.
#include <string>
#include <string_view>
#include <vector>

namespace convpt {

// "a, b, c": the items in order, `separator` between them.
inline std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

}  // namespace convpt
