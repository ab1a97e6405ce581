#pragma once
// Mixed precision, one switch for training, evaluation and benchmarks: with precision "bf16" the forward pass runs
// under bf16 autocast on the model's device (matmuls and convolutions in bf16, reductions and losses in float32).
// A run's setting may also be "auto": bf16 where the device multiplies bf16 matrices natively, else fp32. Commands
// settle it (settle_precision) before they write anything, so a run directory's config.yaml holds what ran.
#include <torch/torch.h>

#include <string>

#include "config/config.h"

namespace convpt::training {

// Whether LibTorch multiplies bf16 matrices natively on `device`: on a CPU, where its oneDNN takes bf16 GEMMs
// (x86 with AVX-512 or AMX, Arm with BF16); elsewhere LibTorch uses its reference GEMM, measured 50x slower than
// fp32 (0.8 against 41 GFLOP/s per core on an AVX2-only AMD EPYC). CUDA: true (convpt's kernels target sm_80 and
// up, which multiply bf16 on tensor cores).
bool native_bf16_matmul(c10::DeviceType device);

// What a `precision` setting ("fp32", "bf16", "auto") runs as, on a device with or without native bf16 matmuls:
// "fp32" or "bf16". bf16 without them throws std::invalid_argument: a run 50x slower than it need be is a mistake
// to report, not a path to take.
std::string resolve_precision(const std::string& precision, bool native_bf16);

// Settles `section`.precision ("pretrain" or "finetune") of `config` for its device (run.device) with
// resolve_precision; its refusal becomes a ConfigError naming `source` (the config's file) and the key. What
// "auto" became is logged unless `note` is quiet (a check ahead of the runs that settle it again).
enum class AutoNote { log, quiet };
void settle_precision(config::Config& config, const std::string& section, const std::string& source,
                      AutoNote note = AutoNote::log);

// One-line description of what precision auto gives on `device`, for `convpt env`.
std::string describe_bf16_support(c10::DeviceType device);

// RAII: bf16 autocast on `device`'s type while alive for "bf16", nothing for "fp32"; anything else ("auto" not
// settled too) is an error.
class Autocast {
 public:
  Autocast(const std::string& precision, torch::Device device);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool enabled_ = false;
  c10::DeviceType device_type_;
};

}  // namespace convpt::training
