#include "training/precision.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <stdexcept>

#include "config/yaml_tree.h"
#include "core/log.h"

namespace convpt::training {

bool native_bf16_matmul(c10::DeviceType device) {
  if (device != c10::DeviceType::CPU) return true;
  // LibTorch's own test (the one its CPU GEMM asks before handing bf16 to oneDNN), through the operator that
  // torch.ops.mkldnn._is_mkldnn_bf16_supported calls: its C++ header is not shipped.
  static const bool native = [] {
    const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_is_mkldnn_bf16_supported", "");
    return op.typed<bool()>().call();
  }();
  return native;
}

std::string resolve_precision(const std::string& precision, bool native_bf16) {
  if (precision == "fp32") return precision;
  if (precision == "auto") return native_bf16 ? "bf16" : "fp32";
  if (precision != "bf16") throw std::invalid_argument("unknown precision '" + precision + "' (fp32, bf16, auto)");
  if (!native_bf16)
    throw std::invalid_argument(
        "bf16 on this CPU would run every matrix multiply in LibTorch's reference GEMM, about 50x slower than "
        "fp32 (its oneDNN multiplies bf16 only with AVX-512 or AMX; see `convpt env`): use fp32, or auto (bf16 "
        "where the device has it, else fp32)");
  return precision;
}

void settle_precision(config::Config& config, const std::string& section, const std::string& source,
                      AutoNote note) {
  if (section != "pretrain" && section != "finetune")
    throw std::logic_error("settle_precision: no section '" + section + "'");
  config::TrainConfig& train = section == "pretrain" ? static_cast<config::TrainConfig&>(config.pretrain)
                                                     : static_cast<config::TrainConfig&>(config.finetune);
  const c10::DeviceType device = config.run.device == "cpu" ? c10::DeviceType::CPU : c10::DeviceType::CUDA;
  const std::string setting = train.precision;
  try {
    train.precision = resolve_precision(setting, native_bf16_matmul(device));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError({source, 0}, section + ".precision", e.what());
  }
  if (setting == "auto" && note == AutoNote::log)
    log::info(section, ".precision auto: ", train.precision, " on ", config.run.device, " (bf16 matrix multiplies ",
              train.precision == "bf16" ? "are" : "are not", " native there)");
}

std::string describe_bf16_support(c10::DeviceType device) {
  return native_bf16_matmul(device)
             ? "native (precision auto runs bf16 autocast)"
             : "not native (LibTorch's reference GEMM, about 50x slower than fp32: precision auto runs fp32, bf16 "
               "is refused)";
}

Autocast::Autocast(const std::string& precision, torch::Device device) : device_type_(device.type()) {
  if (precision == "fp32") return;
  if (precision != "bf16")
    throw std::invalid_argument("unknown precision '" + precision + "' for autocast (fp32, bf16; a run settles auto "
                                "first: settle_precision)");
  enabled_ = true;
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::set_autocast_dtype(device_type_, at::kBFloat16);
}

Autocast::~Autocast() {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(device_type_, false);
  at::autocast::clear_cache();
}

}  // namespace convpt::training
