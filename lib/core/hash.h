#pragma once
// FNV-1a, 64 bits: a fast, stable hash of bytes, for identities that must not change between runs or machines
// (the dev split carved from train, the fingerprints of a tokenizer and of a task's data). Not for anything an
// adversary chooses.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace convpt {

inline uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// "fnv1a64:" and the hash of `bytes` in 16 hex digits.
inline std::string fnv1a64_fingerprint(std::string_view bytes) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(bytes)));
  return "fnv1a64:" + std::string(hex);
}

}  // namespace convpt
