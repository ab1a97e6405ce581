#include "device_query.h"

#include <cuda_runtime.h>

#include <sstream>

namespace convpt::cuda {

std::string describe_devices() {
  std::ostringstream out;
  int count = 0;
  if (const cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
    out << "CUDA runtime: no usable device (" << cudaGetErrorString(status) << ")\n";
    return out.str();
  }
  int runtime_version = 0, driver_version = 0;
  cudaRuntimeGetVersion(&runtime_version);
  cudaDriverGetVersion(&driver_version);
  out << "CUDA runtime " << runtime_version / 1000 << "." << runtime_version % 1000 / 10 << ", driver "
      << driver_version / 1000 << "." << driver_version % 1000 / 10 << "\n";
  for (int device = 0; device < count; ++device) {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, device);
    out << "  cuda:" << device << " " << prop.name << ", sm_" << prop.major << prop.minor << ", "
        << prop.totalGlobalMem / (1024.0 * 1024 * 1024) << " GiB, " << prop.multiProcessorCount << " SMs\n";
  }
  return out.str();
}

}  // namespace convpt::cuda
