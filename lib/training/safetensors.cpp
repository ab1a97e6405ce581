#include "training/safetensors.h"

#include <cstring>
#include <sstream>

#include "core/files.h"
#include "core/json.h"

namespace convpt::training {
namespace {

const std::map<torch::ScalarType, std::string> kDtypeNames = {
    {torch::kFloat32, "F32"}, {torch::kFloat64, "F64"}, {torch::kBFloat16, "BF16"}, {torch::kFloat16, "F16"},
    {torch::kInt64, "I64"},   {torch::kInt32, "I32"},   {torch::kUInt8, "U8"},      {torch::kBool, "BOOL"}};

}  // namespace

void save_safetensors(const std::filesystem::path& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::ostringstream header;
  header << "{\"__metadata__\":{";
  for (auto it = metadata.begin(); it != metadata.end(); ++it)
    header << (it == metadata.begin() ? "" : ",") << json::quote(it->first) << ":" << json::quote(it->second);
  header << "}";
  std::vector<torch::Tensor> contiguous;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const auto dtype = kDtypeNames.find(tensor.scalar_type());
    if (dtype == kDtypeNames.end())
      throw std::invalid_argument("safetensors: tensor '" + name + "' has unsupported dtype " +
                                  std::string(c10::toString(tensor.scalar_type())));
    contiguous.push_back(tensor.detach().cpu().contiguous());
    const int64_t bytes = contiguous.back().numel() * contiguous.back().element_size();
    header << "," << json::quote(name) << ":{\"dtype\":\"" << dtype->second << "\",\"shape\":[";
    for (int64_t d = 0; d < tensor.dim(); ++d) header << (d ? "," : "") << tensor.size(d);
    header << "],\"data_offsets\":[" << offset << "," << offset + bytes << "]}";
    offset += bytes;
  }
  header << "}";
  std::string head = header.str();
  head.append((8 - head.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string file(8, '\0');
  const uint64_t length = head.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((length >> (8 * i)) & 0xff);  // little-endian
  file += head;
  file.reserve(file.size() + static_cast<size_t>(offset));
  for (const auto& t : contiguous)
    file.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel() * t.element_size()));
  write_file_atomically(path, file);
}

StateDict load_safetensors(const std::filesystem::path& path) {
  const std::optional<std::string> contents = read_file(path);
  if (!contents) throw std::runtime_error("checkpoint file missing: " + path.string());
  const std::string& bytes = *contents;
  auto fail = [&](const std::string& what) { throw std::runtime_error("corrupt file " + path.string() + ": " + what); };
  if (bytes.size() < 8) fail("shorter than its header length");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  if (length > bytes.size() - 8) fail("header length " + std::to_string(length) + " beyond the end of the file");
  const std::string header = bytes.substr(8, length);
  const size_t data_start = 8 + length, data_size = bytes.size() - data_start;

  json::Value parsed;
  try {
    parsed = json::parse(header);
    parsed.members();
  } catch (const std::invalid_argument& e) {
    fail(std::string("malformed header: ") + e.what());
  }
  StateDict tensors;
  for (const auto& [name, entry] : parsed.members()) {
    if (name == "__metadata__") continue;
    std::string dtype_name;
    std::vector<int64_t> shape, offsets;
    try {
      dtype_name = entry.at("dtype").as_string();
      for (const auto& d : entry.at("shape").items()) shape.push_back(d.as_int64());
      for (const auto& o : entry.at("data_offsets").items()) offsets.push_back(o.as_int64());
    } catch (const std::invalid_argument& e) {
      fail("tensor '" + name + "': " + e.what());
    }
    auto dtype = kDtypeNames.begin();
    while (dtype != kDtypeNames.end() && dtype->second != dtype_name) ++dtype;
    if (dtype == kDtypeNames.end()) fail("tensor '" + name + "' has unsupported dtype '" + dtype_name + "'");
    torch::Tensor tensor = torch::empty(shape, dtype->first);
    const int64_t bytes_needed = tensor.numel() * tensor.element_size();
    if (offsets.size() != 2 || offsets[0] < 0 || offsets[1] - offsets[0] != bytes_needed ||
        static_cast<uint64_t>(offsets[1]) > data_size)
      fail("tensor '" + name + "' has data offsets that do not fit its shape or the file");
    std::memcpy(tensor.data_ptr(), bytes.data() + data_start + offsets[0], static_cast<size_t>(bytes_needed));
    tensors[name] = tensor;
  }
  return tensors;
}

}  // namespace convpt::training
