#include "training/safetensors.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/run_dir.h"

namespace convpt::training {
namespace {

const std::map<torch::ScalarType, std::string> kDtypeNames = {
    {torch::kFloat32, "F32"}, {torch::kFloat64, "F64"}, {torch::kBFloat16, "BF16"}, {torch::kFloat16, "F16"},
    {torch::kInt64, "I64"},   {torch::kInt32, "I32"},   {torch::kUInt8, "U8"},      {torch::kBool, "BOOL"}};

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A reader for the small JSON subset of safetensors headers: objects, strings, arrays of integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::filesystem::path& file) : text_(text), file_(file) {}

  template <class OnMember> void object(OnMember on_member) {
    expect('{');
    if (peek() == '}') return void(++at_);
    do {
      const std::string key = string();
      expect(':');
      on_member(key);
    } while (consume(','));
    expect('}');
  }
  std::string string() {
    expect('"');
    std::string out;
    while (at_ < text_.size() && text_[at_] != '"') {
      if (text_[at_] == '\\') ++at_;  // names here need no escapes beyond \" and \\.
      if (at_ < text_.size()) out += text_[at_++];
    }
    expect('"');
    return out;
  }
  std::vector<int64_t> integers() {
    std::vector<int64_t> out;
    expect('[');
    if (peek() == ']') return ++at_, out;
    do {
      skip_space();
      size_t used = 0;
      try {
        out.push_back(std::stoll(text_.substr(at_, 24), &used));
      } catch (const std::exception&) {
        fail("expected an integer");
      }
      at_ += used;
    } while (consume(','));
    expect(']');
    return out;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("malformed safetensors header in " + file_.string() + " at byte " +
                             std::to_string(at_) + ": " + what);
  }

 private:
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  char peek() {
    skip_space();
    return at_ < text_.size() ? text_[at_] : '\0';
  }
  bool consume(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  const std::string& text_;
  const std::filesystem::path& file_;
  size_t at_ = 0;
};

}  // namespace

void save_safetensors(const std::filesystem::path& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::ostringstream header;
  header << "{\"__metadata__\":{";
  for (auto it = metadata.begin(); it != metadata.end(); ++it)
    header << (it == metadata.begin() ? "" : ",") << quoted(it->first) << ":" << quoted(it->second);
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
    header << "," << quoted(name) << ":{\"dtype\":\"" << dtype->second << "\",\"shape\":[";
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("checkpoint file missing: " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto fail = [&](const std::string& what) { throw std::runtime_error("corrupt file " + path.string() + ": " + what); };
  if (bytes.size() < 8) fail("shorter than its header length");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  if (length > bytes.size() - 8) fail("header length " + std::to_string(length) + " beyond the end of the file");
  const std::string header = bytes.substr(8, length);
  const size_t data_start = 8 + length, data_size = bytes.size() - data_start;

  StateDict tensors;
  HeaderParser parser(header, path);
  parser.object([&](const std::string& name) {
    if (name == "__metadata__") return parser.object([&](const std::string&) { parser.string(); });
    std::string dtype_name;
    std::vector<int64_t> shape, offsets;
    parser.object([&](const std::string& key) {
      if (key == "dtype") dtype_name = parser.string();
      else if (key == "shape") shape = parser.integers();
      else if (key == "data_offsets") offsets = parser.integers();
      else parser.fail("unknown key '" + key + "'");
    });
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
  });
  return tensors;
}

}  // namespace convpt::training
