#pragma once
// FNV-1a, 64 bits: a fast, stable hash of bytes, for identities that must not change between runs or machines
// (the dev split carved from train, the fingerprint of a tokenizer). Not for anything an adversary chooses.
#include <cstdint>
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

}  // namespace convpt
