#pragma once
// FNV-1a, 64 bits: a fast, stable hash of bytes, for identities that must not change between runs or machines
// (the dev split carved from train, the fingerprints of a tokenizer and of a task's data). Not for anything an
// adversary chooses.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace convpt {

constexpr uint64_t kFnv1a64Basis = 14695981039346656037ull;

// `hash` continues an earlier call's result, so a stream hashes chunk by chunk to what its whole bytes give.
inline uint64_t fnv1a64(std::string_view bytes, uint64_t hash = kFnv1a64Basis) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// "fnv1a64:" and a hash in 16 hex digits.
inline std::string fnv1a64_fingerprint_of(uint64_t hash) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "fnv1a64:" + std::string(hex);
}

inline std::string fnv1a64_fingerprint(std::string_view bytes) { return fnv1a64_fingerprint_of(fnv1a64(bytes)); }

}  // namespace convpt
