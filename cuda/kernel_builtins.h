#pragma once
// The CUDA built-ins the kernels use, so one kernel source compiles two ways: with nvcc for the GPU, and with a
// host compiler against emulation/block_emulator.h, which runs the kernels on the CPU.
#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <cuda_runtime.h>

namespace convpt::cuda {

// The block's dynamic shared memory (the launch's third parameter).
__device__ __forceinline__ unsigned char* dynamic_shared_memory() {
  extern __shared__ __align__(16) unsigned char dynamic_shared[];
  return dynamic_shared;
}

}  // namespace convpt::cuda
#else
#include "emulation/block_emulator.h"
#endif
