#include "config/yaml_tree.h"

#include <algorithm>
#include <set>

#include "core/files.h"

namespace convpt::config {
namespace fs = std::filesystem;

std::string Origin::describe() const {
  return line > 0 ? source + ":" + std::to_string(line) : source;
}

ConfigError::ConfigError(const Origin& where, const std::string& key, const std::string& what)
    : std::runtime_error(where.describe() + ": " + (key.empty() ? "" : "key '" + key + "': ") + what) {}

namespace {
std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::vector<std::string> split_key(const std::string& dotted_key) {
  std::vector<std::string> parts;
  std::string rest = dotted_key;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1))
    parts.push_back(rest.substr(0, dot));
  parts.push_back(rest);
  return parts;
}

// yaml-cpp keeps both entries of a repeated key and a lookup sees only one of them: a repeated key is an error.
void refuse_repeated_keys(const YAML::Node& node, const std::string& source, const std::string& prefix,
                          bool from_command_line = false) {
  if (node.IsSequence())
    for (const auto& item : node) refuse_repeated_keys(item, source, prefix, from_command_line);
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    const std::string path = join_key(prefix, key);
    if (!seen.insert(key).second)
      throw ConfigError({source, from_command_line ? 0 : item.first.Mark().line + 1}, path,
                        "repeated key (only one of them would count)");
    refuse_repeated_keys(item.second, source, path, from_command_line);
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError({source, e.mark.line + 1}, "", "YAML syntax error: " + e.msg);
  }
  refuse_repeated_keys(doc, source, "");
  return doc;
}
}  // namespace

YamlTree YamlTree::from_file(const fs::path& path) {
  YamlTree tree;
  tree.main_source_ = path.string();
  std::vector<fs::path> chain;
  tree.merge_file(path, chain);
  return tree;
}

YamlTree YamlTree::from_files(const std::vector<fs::path>& paths) {
  if (paths.empty()) throw ConfigError({"", 0}, "", "no config files given");
  YamlTree tree;
  tree.main_source_ = paths.front().string();
  for (const auto& path : paths) {
    std::vector<fs::path> chain;
    tree.merge_file(path, chain);
  }
  return tree;
}

YamlTree YamlTree::from_string(const std::string& yaml, const std::string& source_name) {
  YamlTree tree;
  tree.main_source_ = source_name;
  YAML::Node doc = parse_yaml(yaml, source_name);
  if (doc.IsNull()) return tree;
  if (!doc.IsMap()) throw ConfigError({source_name, doc.Mark().line + 1}, "", "top level must be a mapping");
  if (doc["base"]) throw ConfigError({source_name, doc["base"].Mark().line + 1}, "base", "inheritance needs a file");
  tree.merge(tree.root_, doc, "", source_name, /*from_command_line=*/false);
  return tree;
}

void YamlTree::merge_file(const fs::path& path, std::vector<fs::path>& chain) {
  const std::optional<std::string> text = read_file(path);
  if (!text) throw ConfigError({path.string(), 0}, "", "cannot open config file");
  const std::string source = path.string();
  YAML::Node doc = parse_yaml(*text, source);
  if (doc.IsNull()) throw ConfigError({source, 0}, "", "config file is empty");
  if (!doc.IsMap()) throw ConfigError({source, doc.Mark().line + 1}, "", "top level must be a mapping");

  const fs::path canonical = fs::weakly_canonical(path);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end())
    throw ConfigError({source, doc["base"] ? doc["base"].Mark().line + 1 : 0}, "base", "inheritance cycle");
  chain.push_back(canonical);

  if (const YAML::Node base = doc["base"]) {
    if (!base.IsScalar())
      throw ConfigError({source, base.Mark().line + 1}, "base", "must be a file path (string)");
    const fs::path base_path = path.parent_path() / base.as<std::string>();
    if (!fs::exists(base_path))
      throw ConfigError({source, base.Mark().line + 1}, "base", "file not found: " + base_path.string());
    merge_file(base_path, chain);
    doc.remove("base");
  }
  merge(root_, doc, "", source, /*from_command_line=*/false);
  chain.pop_back();
}

void YamlTree::merge(YAML::Node into, const YAML::Node& from, const std::string& prefix,
                     const std::string& source, bool from_command_line) {
  for (const auto& kv : from) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = join_key(prefix, key);
    const YAML::Node& value = kv.second;
    // Mappings merge key by key; scalars and lists replace what the base file said.
    const bool merges_mapping = value.IsMap() && into[key] && into[key].IsMap();
    // The key's line, also for mappings; but a --set only names the keys it sets, so that a key missing from a
    // section is still reported at the file that wrote the section.
    if (!(merges_mapping && from_command_line)) origins_[path] = Origin{source, kv.first.Mark().line + 1};
    if (merges_mapping) {
      merge(into[key], value, path, source, from_command_line);
      continue;
    }
    for (auto it = origins_.lower_bound(path + "."); it != origins_.end() && it->first.rfind(path + ".", 0) == 0;)
      it = origins_.erase(it);  // the replaced subtree's keys no longer exist
    if (value.IsMap()) {
      into[key] = YAML::Node(YAML::NodeType::Map);
      merge(into[key], value, path, source, from_command_line);
    } else {
      into[key] = YAML::Clone(value);
    }
  }
}

void YamlTree::replace_section(const YamlTree& other, const std::string& section) {
  const YAML::Node from = other.root_[section];
  if (from) root_[section] = YAML::Clone(from);
  else root_.remove(section);
  auto in_section = [&](const std::string& key) { return key == section || key.rfind(section + ".", 0) == 0; };
  std::erase_if(origins_, [&](const auto& entry) { return in_section(entry.first); });
  for (const auto& [key, origin] : other.origins_)
    if (in_section(key)) origins_[key] = origin;
}

void YamlTree::apply_override(const std::string& assignment) {
  const Origin where{"--set " + assignment, 0};
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError(where, "", "expected key=value");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(where, key, "value is not valid YAML: " + e.msg);
  }
  refuse_repeated_keys(value, where.source, key, /*from_command_line=*/true);
  // Build {a: {b: {c: value}}} and merge it like one more file.
  YAML::Node patch = value;
  const std::vector<std::string> parts = split_key(key);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (it->empty()) throw ConfigError(where, key, "empty key component");
    YAML::Node wrapper(YAML::NodeType::Map);
    wrapper[*it] = patch;
    patch = wrapper;
  }
  merge(root_, patch, "", where.source, /*from_command_line=*/true);
  for (auto& [path, origin] : origins_)
    if (origin.source == where.source) origin.line = 0;
}

YAML::Node YamlTree::find(const std::string& dotted_key) const {
  // Walk by value: assigning yaml-cpp nodes would rebind (and so modify) the tree itself.
  const std::vector<std::string> parts = split_key(dotted_key);
  const auto descend = [&](auto& self, const YAML::Node& node, size_t depth) -> YAML::Node {
    if (depth == parts.size()) return node;
    if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node child = node[parts[depth]];
    return child ? self(self, child, depth + 1) : YAML::Node(YAML::NodeType::Undefined);
  };
  return descend(descend, root_, 0);
}

Origin YamlTree::origin_of(const std::string& dotted_key) const {
  // The key itself, else its closest ancestor that was set somewhere (a list item, "a.b[1]", is its list's).
  for (std::string key = dotted_key;;) {
    if (auto it = origins_.find(key); it != origins_.end()) return it->second;
    const auto cut = key.find_last_of(".[");
    if (cut == std::string::npos) return Origin{main_source_, 0};
    key = key.substr(0, cut);
  }
}

std::vector<std::string> YamlTree::all_keys() const {
  std::vector<std::string> keys;
  keys.reserve(origins_.size());
  for (const auto& [key, origin] : origins_) keys.push_back(key);
  return keys;
}

}  // namespace convpt::config
