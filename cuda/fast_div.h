#pragma once
// Division by a divisor fixed at launch time, as one multiply-high and one shift (Granlund & Montgomery, as in
// CUTLASS's FastDivmod). The kernels' tile and head indices divide by launch constants; a hardware-less 32-bit
// division costs about 20 instructions, which dominated the conv kernel at small k. Exact for dividends below 2^31.
// Plain C++ as well, so the CPU tests check it against / and % (tests/fast_div_test.cpp).
#include <cstdint>
#include <stdexcept>

#if defined(__CUDACC__)
#define CONVPT_HOST_DEVICE __host__ __device__
#else
#define CONVPT_HOST_DEVICE
#endif

namespace convpt::cuda {

struct FastDiv {
  uint32_t divisor = 1, multiplier = 0, shift = 0;

  FastDiv() = default;
  explicit FastDiv(int64_t d) : divisor(uint32_t(d)) {
    if (d < 1 || d > INT32_MAX) throw std::invalid_argument("FastDiv: divisor must be in [1, 2^31)");
    if (d == 1) return;
    uint32_t log2_ceil = 0;
    while ((uint64_t(1) << log2_ceil) < uint64_t(d)) ++log2_ceil;
    const uint32_t p = 31 + log2_ceil;  // multiplier = ceil(2^p / d) < 2^32
    multiplier = uint32_t(((uint64_t(1) << p) + uint64_t(d) - 1) / uint64_t(d));
    shift = p - 32;
  }

  CONVPT_HOST_DEVICE uint32_t div(uint32_t n) const {
    if (divisor == 1) return n;
#if defined(__CUDA_ARCH__)
    return __umulhi(n, multiplier) >> shift;
#else
    return uint32_t((uint64_t(n) * multiplier) >> 32) >> shift;
#endif
  }
  CONVPT_HOST_DEVICE uint32_t mod(uint32_t n) const { return n - div(n) * divisor; }
};

}  // namespace convpt::cuda
