// FastDiv (cuda/fast_div.h), the CUDA kernels' division by launch constants, against the hardware's / and %.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "fast_div.h"

using convpt::cuda::FastDiv;

TEST_CASE("FastDiv divides exactly for every dividend below 2^31", "[fast_div]") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> dividend(0, INT32_MAX);
  std::vector<int64_t> divisors = {1, 2, 3, 5, 7, 8, 9, 12, 31, 64, 65, 100, 127, 641, 1000, 4095, 65537,
                                   (1 << 20) + 1, INT32_MAX / 3, INT32_MAX - 1, INT32_MAX};
  for (int i = 0; i < 200; ++i) divisors.push_back(std::uniform_int_distribution<int64_t>(1, INT32_MAX)(rng));
  for (const int64_t d : divisors) {
    const FastDiv fast(d);
    const uint32_t u = uint32_t(d);
    std::vector<uint32_t> ns = {0, 1, u - 1, u, u + 1, 2 * u - 1, INT32_MAX, INT32_MAX - 1, INT32_MAX - u};
    for (uint32_t m = 1; m < 64 && uint64_t(m) * u < uint64_t(INT32_MAX); ++m) ns.insert(ns.end(), {m * u - 1, m * u});
    for (int i = 0; i < 2000; ++i) ns.push_back(dividend(rng));
    int wrong = 0;
    std::string first;
    for (const uint32_t n : ns) {
      if (n > uint32_t(INT32_MAX) || (fast.div(n) == n / u && fast.mod(n) == n % u)) continue;
      if (wrong++ == 0)
        first = std::to_string(n) + " / " + std::to_string(d) + ": got " + std::to_string(fast.div(n)) + " rem " +
                std::to_string(fast.mod(n));
    }
    INFO("first wrong: " << first);
    CHECK(wrong == 0);
  }
}

TEST_CASE("FastDiv rejects divisors below 1 or from 2^31 up", "[fast_div]") {
  CHECK_THROWS_AS(FastDiv(0), std::invalid_argument);
  CHECK_THROWS_AS(FastDiv(-4), std::invalid_argument);
  CHECK_THROWS_AS(FastDiv(int64_t(1) << 31), std::invalid_argument);
}
