#include "core/runtime.h"

#include <jemalloc/jemalloc.h>

#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include "core/build_info.h"
#include "core/log.h"
#ifdef CONVPT_WITH_CUDA
#include "device_query.h"
#endif

namespace convpt {

torch::Device apply_runtime(const config::RunConfig& run) {
  const int threads = run.threads > 0 ? static_cast<int>(run.threads)
                                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::manual_seed(static_cast<uint64_t>(run.seed));
  log::debug("threads=", threads, " seed=", run.seed, " device=", run.device);
  if (run.device == "cpu") return torch::kCPU;
  if (!torch::cuda::is_available())
    throw std::runtime_error("device 'cuda' requested but no CUDA device is usable here (torch::cuda::is_available() "
                             "is false); use --device cpu");
#ifndef CONVPT_WITH_CUDA
  throw std::runtime_error("device 'cuda' requested but this convpt was built without its CUDA kernels "
                           "(reconfigure with -DCONVPT_CUDA=ON)");
#endif
  return torch::kCUDA;
}

namespace {
std::string allocator_description() {
  const char* version = nullptr;
  size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) != 0) return "glibc malloc";
  const char* conf = nullptr;
  size = sizeof conf;
  std::string settings = mallctl("opt.thp", &conf, &size, nullptr, 0) == 0 ? std::string(" thp:") + conf : "";
  ssize_t dirty_decay = 0;
  size = sizeof dirty_decay;
  if (mallctl("opt.dirty_decay_ms", &dirty_decay, &size, nullptr, 0) == 0)
    settings += " dirty_decay_ms:" + std::to_string(dirty_decay);
  return std::string("jemalloc ") + version + settings;
}
}  // namespace

std::string describe_runtime() {
  std::ostringstream out;
  out << "convpt " << CONVPT_VERSION << " (commit " << git_commit() << ", " << CONVPT_BUILD_TYPE << ")\n"
      << "libtorch " << CONVPT_TORCH_VERSION << ", CUDA kernels "
#ifdef CONVPT_WITH_CUDA
      << "built (sm_80, sm_90)\n"
#else
      << "not built\n"
#endif
      << "allocator: " << allocator_description() << "\n"
      << "intra-op threads: " << at::get_num_threads() << " (cores: " << std::thread::hardware_concurrency() << ")\n"
      << "CUDA devices visible to LibTorch: " << static_cast<int>(torch::cuda::device_count()) << "\n";
#ifdef CONVPT_WITH_CUDA
  out << cuda::describe_devices();
#endif
  out << at::show_config();
  return out.str();
}

}  // namespace convpt
