#pragma once
// A YAML document assembled from a chain of files (`base:` inheritance) and command-line overrides,
// remembering for every key where its value came from, so errors can name the file and line.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace convpt::config {

struct Origin {
  std::string source;  // a file path, or "--set key=value"
  int line = 0;        // 1-based; 0 when the value came from the command line
  std::string describe() const;
};

// Thrown for every configuration problem; the CLI turns it into exit code 2.
struct ConfigError : std::runtime_error {
  ConfigError(const Origin& where, const std::string& key, const std::string& what);
};

class YamlTree {
 public:
  // Loads `path`, following `base:` (a path relative to the including file) before applying the file's own keys.
  static YamlTree from_file(const std::filesystem::path& path);
  // Several files merged in order, each with its own `base:` chain: later files override earlier ones.
  static YamlTree from_files(const std::vector<std::filesystem::path>& paths);
  static YamlTree from_string(const std::string& yaml, const std::string& source_name);

  // `dotted.key=value`; the value is parsed as YAML, so `--set model.kernel_sizes=[3,5]` works.
  void apply_override(const std::string& assignment);

  // Replaces the top-level `section` with the other tree's (keeping where its keys came from), e.g. the model
  // section of a model file over experiment settings whose own base chain also says something about the model.
  void replace_section(const YamlTree& other, const std::string& section);

  const YAML::Node& root() const { return root_; }
  // Node at a dotted path, or an undefined node.
  YAML::Node find(const std::string& dotted_key) const;
  Origin origin_of(const std::string& dotted_key) const;
  // Every key path (maps and leaves) present in the tree, for unknown-key detection.
  std::vector<std::string> all_keys() const;

 private:
  void merge_file(const std::filesystem::path& path, std::vector<std::filesystem::path>& chain);
  void merge(YAML::Node into, const YAML::Node& from, const std::string& prefix, const std::string& source,
             bool from_command_line);

  YAML::Node root_ = YAML::Node(YAML::NodeType::Map);
  std::string main_source_;  // the file (or string name) the tree was loaded from
  std::map<std::string, Origin> origins_;
};

}  // namespace convpt::config
