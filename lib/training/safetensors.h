#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a
// JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw
// little-endian tensor bytes. Python reads it with `safetensors.torch.load_file(path)`, without unpickling code.
#include <filesystem>
#include <map>
#include <string>

#include <torch/torch.h>

namespace convpt::training {

using StateDict = std::map<std::string, torch::Tensor>;

// Writes atomically (temp file, fsync, rename). Supports float32/64, bfloat16, float16, int64/32, uint8, bool.
void save_safetensors(const std::filesystem::path& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Throws std::runtime_error naming the file for a missing, truncated or malformed file.
StateDict load_safetensors(const std::filesystem::path& path);

}  // namespace convpt::training
