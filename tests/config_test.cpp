// Config loading: good files, inheritance, overrides, and every kind of bad input with its file:line and key.
#include <catch2/catch.hpp>

#include <set>

#include "config/config.h"
#include "experiments/grid.h"
#include "temp_dir.h"

using convpt::config::Config;
using convpt::config::ConfigError;
using convpt::config::load_config;
using convpt::test::TempDir;
using Catch::Matchers::Contains;

namespace {
// The message of the ConfigError that loading `file` (with `overrides`) throws; fails the test if none.
std::string error_of(const std::filesystem::path& file, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(file, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError for " << file);
  return "";
}
}  // namespace

TEST_CASE("a minimal file gets the paper's defaults", "[config]") {
  TempDir dir;
  const Config c = load_config(dir.write("exp.yaml", "model:\n  arch: lightconv\n"));
  CHECK(c.model.arch == "lightconv");
  CHECK(c.model.d_model == 768);
  CHECK(c.model.vocab_size == 32128);
  CHECK(c.model.relative_attention_buckets == 32);
  CHECK(c.pretrain.optimizer == "adafactor");
  CHECK(c.pretrain.noise_density == Approx(0.15));
  CHECK(c.finetune.learning_rate == Approx(1e-3));  // T5 fine-tuning default, not the pre-training one
  CHECK(c.finetune.schedule == "constant");
}

TEST_CASE("values of every type are read", "[config]") {
  TempDir dir;
  const Config c = load_config(dir.write("exp.yaml", R"(
run: {name: r1, seed: 42, threads: 2, device: cpu}
model:
  arch: dilatedconv
  d_model: 64
  num_heads: 4
  encoder_layers: 3
  decoder_layers: 3
  dropout: 0.05
  kernel_sizes: [3, 4, 31]
  dilations: [1, 2, 4]
bench: {archs: [transformer, lightconv], seq_lengths: [128, 256]}
)"));
  CHECK(c.run.name == "r1");
  CHECK(c.run.seed == 42);
  CHECK(c.model.dropout == Approx(0.05));
  CHECK(c.model.kernel_sizes == std::vector<int64_t>{3, 4, 31});
  CHECK(c.model.dilations == std::vector<int64_t>{1, 2, 4});
  CHECK(c.bench.archs == std::vector<std::string>{"transformer", "lightconv"});
}

TEST_CASE("base: inheritance merges mappings, replaces lists, and follows chains", "[config]") {
  TempDir dir;
  dir.write("presets/model.yaml", "model:\n  arch: transformer\n  d_model: 256\n  num_heads: 4\n"
                                  "  kernel_sizes: [3, 5]\n  encoder_layers: 2\n  decoder_layers: 2\n");
  dir.write("presets/train.yaml", "base: model.yaml\npretrain:\n  steps: 100\n  batch_size: 8\n");
  const auto child = dir.write("exp/child.yaml", "base: ../presets/train.yaml\nmodel:\n  arch: lightconv\n"
                                                 "  kernel_sizes: [7]\npretrain:\n  steps: 200\n");
  const Config c = load_config(child);
  CHECK(c.model.arch == "lightconv");                          // child wins
  CHECK(c.model.d_model == 256);                               // from the grand-parent
  CHECK(c.model.kernel_sizes == std::vector<int64_t>{7});      // lists are replaced, not merged
  CHECK(c.pretrain.steps == 200);
  CHECK(c.pretrain.batch_size == 8);                           // from the parent
}

TEST_CASE("command-line overrides (--set) win over files and parse YAML values", "[config]") {
  TempDir dir;
  const auto file = dir.write("exp.yaml", "model:\n  arch: transformer\n  d_model: 512\n");
  const Config c = load_config(file, {"model.d_model=128", "model.num_heads=8", "bench.seq_lengths=[64, 96]",
                                      "run.name=from-cli"});
  CHECK(c.model.d_model == 128);
  CHECK(c.model.num_heads == 8);
  CHECK(c.bench.seq_lengths == std::vector<int64_t>{64, 96});
  CHECK(c.run.name == "from-cli");
}

TEST_CASE("an unknown key names file, line, key and the likely intended key", "[config][errors]") {
  TempDir dir;
  const auto file = dir.write("exp.yaml", "model:\n  arch: transformer\n  d_modle: 512\n");
  const std::string message = error_of(file);
  CHECK_THAT(message, Contains(file.string() + ":3"));
  CHECK_THAT(message, Contains("model.d_modle"));
  CHECK_THAT(message, Contains("unknown key"));
  CHECK_THAT(message, Contains("did you mean 'model.d_model'"));
}

TEST_CASE("an unknown section is rejected", "[config][errors]") {
  TempDir dir;
  const auto file = dir.write("exp.yaml", "model:\n  arch: transformer\ntraining:\n  steps: 3\n");
  const std::string message = error_of(file);
  CHECK_THAT(message, Contains(file.string() + ":3"));
  CHECK_THAT(message, Contains("'training'"));
}

TEST_CASE("a wrong type names file, line and key", "[config][errors]") {
  TempDir dir;
  SECTION("string for an integer") {
    const auto file = dir.write("exp.yaml", "model:\n  arch: transformer\n\n  d_model: wide\n");
    const std::string message = error_of(file);
    CHECK_THAT(message, Contains(file.string() + ":4"));
    CHECK_THAT(message, Contains("model.d_model"));
    CHECK_THAT(message, Contains("expected an integer"));
  }
  SECTION("fraction for an integer") {
    CHECK_THAT(error_of(dir.write("exp.yaml", "model:\n  arch: transformer\n  d_ff: 2.5\n")),
               Contains("expected an integer"));
  }
  SECTION("scalar for a list") {
    const std::string message = error_of(dir.write("exp.yaml", "model:\n  arch: lightconv\n  kernel_sizes: 7\n"));
    CHECK_THAT(message, Contains("model.kernel_sizes"));
    CHECK_THAT(message, Contains("expected a list"));
  }
  SECTION("bad list element") {
    CHECK_THAT(error_of(dir.write("exp.yaml", "model:\n  arch: lightconv\n  kernel_sizes: [3, x]\n")),
               Contains("model.kernel_sizes[1]"));
  }
  SECTION("section that is not a mapping") {
    CHECK_THAT(error_of(dir.write("exp.yaml", "model: transformer\n")), Contains("must be a mapping"));
  }
  SECTION("value outside the choices") {
    const std::string message = error_of(dir.write("exp.yaml", "model:\n  arch: lstm\n"));
    CHECK_THAT(message, Contains("'lstm' is not one of"));
    CHECK_THAT(message, Contains(":2"));
  }
}

TEST_CASE("a missing required field is named", "[config][errors]") {
  TempDir dir;
  const auto file = dir.write("exp.yaml", "model:\n  d_model: 512\n");
  const std::string message = error_of(file);
  CHECK_THAT(message, Contains("model.arch"));
  CHECK_THAT(message, Contains("required"));
  CHECK_THAT(message, Contains(file.string()));
}

TEST_CASE("a misspelt section is reported before the required field it leaves missing", "[config][errors]") {
  TempDir dir;
  const auto file = dir.write("exp.yaml", "run:\n  seed: 3\nmodle:\n  arch: transformer\n");
  const std::string message = error_of(file);
  CHECK_THAT(message, Contains(file.string() + ":3"));
  CHECK_THAT(message, Contains("unknown key"));
  CHECK_THAT(message, Contains("did you mean 'model'"));
}

TEST_CASE("impossible values point at the offending key", "[config][errors]") {
  TempDir dir;
  const std::string head = "model:\n  arch: transformer\n";
  SECTION("d_model not divisible by heads") {
    const auto file = dir.write("exp.yaml", head + "  d_model: 100\n  num_heads: 12\n");
    const std::string message = error_of(file);
    CHECK_THAT(message, Contains(file.string() + ":4"));
    CHECK_THAT(message, Contains("not divisible by num_heads"));
  }
  SECTION("negative steps") {
    const auto file = dir.write("exp.yaml", head + "pretrain:\n  steps: -5\n");
    const std::string message = error_of(file);
    CHECK_THAT(message, Contains(file.string() + ":4"));
    CHECK_THAT(message, Contains("pretrain.steps"));
  }
  SECTION("dropout out of range") {
    CHECK_THAT(error_of(dir.write("exp.yaml", head + "  dropout: 1.5\n")), Contains("model.dropout"));
  }
  SECTION("kernel size < 1") {
    CHECK_THAT(error_of(dir.write("exp.yaml", "model:\n  arch: lightconv\n  kernel_sizes: [0]\n")),
               Contains("model.kernel_sizes[0]"));
  }
  SECTION("per-layer list of the wrong length") {
    const std::string message =
        error_of(dir.write("exp.yaml", "model:\n  arch: lightconv\n  encoder_layers: 3\n  decoder_layers: 3\n"
                                       "  kernel_sizes: [3, 5]\n"));
    CHECK_THAT(message, Contains("one per layer (3)"));
  }
  SECTION("dilation on a model that has none") {
    CHECK_THAT(error_of(dir.write("exp.yaml", "model:\n  arch: lightconv\n  dilations: [2]\n")),
               Contains("needs arch: dilatedconv"));
  }
  SECTION("conv heads that do not divide d_model") {
    CHECK_THAT(error_of(dir.write("exp.yaml", "model:\n  arch: lightconv\n  d_model: 64\n  num_heads: 4\n"
                                              "  conv_heads: 5\n")),
               Contains("model.conv_heads"));
  }
  SECTION("zero steps") {
    CHECK_THAT(error_of(dir.write("exp.yaml", head + "finetune:\n  steps: 0\n")), Contains("finetune.steps"));
  }
  SECTION("zero batch size") {
    CHECK_THAT(error_of(dir.write("exp.yaml", head + "finetune:\n  batch_size: 0\n")),
               Contains("finetune.batch_size"));
  }
  SECTION("weight decay with an optimiser that has none") {
    const std::string message =
        error_of(dir.write("exp.yaml", head + "finetune:\n  optimizer: adafactor\n  weight_decay: 0.01\n"));
    CHECK_THAT(message, Contains("finetune.weight_decay"));
    CHECK_THAT(message, Contains("must be 0 with adafactor"));
  }
}

TEST_CASE("errors inside a base file name the base file", "[config][errors]") {
  TempDir dir;
  const auto base = dir.write("base.yaml", "model:\n  arch: transformer\n  num_heads: seven\n");
  const auto child = dir.write("child.yaml", "base: base.yaml\npretrain:\n  steps: 3\n");
  CHECK_THAT(error_of(child), Contains(base.string() + ":3"));
}

TEST_CASE("a bad command-line override names its --set argument", "[config][errors]") {
  TempDir dir;
  const auto file = dir.write("exp.yaml", "model:\n  arch: transformer\n");
  CHECK_THAT(error_of(file, {"model.d_model=big"}), Contains("--set model.d_model=big"));
  CHECK_THAT(error_of(file, {"model.depth=3"}), Contains("unknown key"));
  CHECK_THAT(error_of(file, {"model.d_model"}), Contains("expected key=value"));
  // A key missing from a section is the file's fault, even when a --set touched the section.
  const auto no_arch = dir.write("no_arch.yaml", "run:\n  seed: 1\nmodel:\n  d_model: 64\n");
  const std::string missing = error_of(no_arch, {"model.num_heads=4"});
  CHECK_THAT(missing, Contains("model.arch") && Contains(no_arch.string() + ":3"));
  CHECK_THAT(missing, !Contains("--set"));
  // A list item is its list's; a cross-field rule names where the other key was set.
  const auto conv = dir.write(
      "conv.yaml", "model:\n  arch: lightconv\n  d_model: 64\n  num_heads: 4\n  encoder_layers: 2\n  decoder_layers: 2\n");
  CHECK_THAT(error_of(conv, {"model.kernel_sizes=[3,0]"}),
             Contains("--set model.kernel_sizes=[3,0]: key 'model.kernel_sizes[1]': must be > 0"));
  CHECK_THAT(error_of(conv, {"model.d_model=66"}),
             Contains(conv.string() + ":4: key 'model.num_heads'") &&
                 Contains("(model.d_model from --set model.d_model=66)"));
}

TEST_CASE("broken files are clear errors", "[config][errors]") {
  TempDir dir;
  CHECK_THAT(error_of(dir.path() / "missing.yaml"), Contains("cannot open"));
  CHECK_THAT(error_of(dir.write("empty.yaml", "")), Contains("empty"));
  const auto bad = dir.write("bad.yaml", "model:\n  arch: transformer\n  d_model: [1, 2\n");
  CHECK_THAT(error_of(bad), Contains("YAML syntax error"));
  CHECK_THAT(error_of(dir.write("list.yaml", "- 1\n- 2\n")), Contains("top level must be a mapping"));
  CHECK_THAT(error_of(dir.write("nobase.yaml", "base: nowhere.yaml\n")), Contains("file not found"));
  dir.write("a.yaml", "base: b.yaml\n");
  CHECK_THAT(error_of(dir.write("b.yaml", "base: a.yaml\n")), Contains("inheritance cycle"));
  const auto repeated = dir.write("repeated.yaml", "model:\n  arch: transformer\n  d_model: 64\n  arch: lightconv\n");
  CHECK_THAT(error_of(repeated), Contains(repeated.string() + ":4: key 'model.arch': repeated key"));
  CHECK_THAT(error_of(dir.write("ok.yaml", "model:\n  arch: transformer\n"), {"model={arch: a, d_model: 8, arch: b}"}),
             Contains("--set model={arch: a, d_model: 8, arch: b}: key 'model.arch': repeated key"));
}

TEST_CASE("the resolved config round-trips through YAML", "[config]") {
  TempDir dir;
  const Config original = load_config(dir.write("exp.yaml", R"(
run: {name: "odd: name", seed: 7}
model: {arch: dilatedconv, d_model: 96, num_heads: 3, encoder_layers: 2, decoder_layers: 2,
        dropout: 0.1, kernel_sizes: [4, 7], dilations: [1, 3]}
pretrain: {learning_rate: 0.01, z_loss: 0.0001}
)"));
  const std::string yaml = convpt::config::to_yaml(original);
  const Config reloaded = load_config(dir.write("resolved.yaml", yaml));
  CHECK(reloaded == original);
  CHECK_THAT(yaml, Contains("dropout: 0.1\n"));  // shortest form, not 0.10000000000000001
}

TEST_CASE("every experiment file in the repository loads and validates", "[config][experiments]") {
  namespace fs = std::filesystem;
  // Grid files (a top-level `grid:`) are validated cell by cell: every (row, dataset) fine-tuning config and every
  // pre-training config they compose. The files they merge are fragments, valid only in those compositions.
  std::vector<fs::path> grids, others;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(CONVPT_SOURCE_DIR) / "experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    // Files under a presets/ folder are fragments meant to be inherited; they need not be complete.
    if (entry.path().parent_path().filename() == "presets") continue;
    (YAML::LoadFile(entry.path().string())["grid"] ? grids : others).push_back(fs::weakly_canonical(entry.path()));
  }
  std::set<fs::path> fragments;
  int cells = 0;
  for (const auto& file : grids) {
    INFO(file);
    const convpt::experiments::GridLayout layout(file, convpt::config::load_grid_config(file).grid);
    for (const auto& cell : convpt::experiments::grid_cells(layout.grid())) {
      INFO(cell.run_name());
      const Config config = layout.finetune_config(cell);
      CHECK(config.model.arch == cell.arch);
      CHECK(config.finetune.task == cell.dataset);
      CHECK(config.finetune.init.empty() == (cell.row == "scratch"));
      ++cells;
    }
    for (const auto& arch : layout.grid().archs) CHECK(layout.pretrain_config(arch).model.arch == arch);
    for (const auto& f : layout.files()) fragments.insert(fs::weakly_canonical(f));
  }
  int checked = 0;
  for (const auto& file : others) {
    if (fragments.count(file) && !YAML::LoadFile(file.string())["base"]) continue;  // a fragment without a base
    INFO(file);
    CHECK_NOTHROW(load_config(file));
    ++checked;
  }
  CHECK(checked > 0);
  CHECK(grids.size() >= 3);  // paper, cpu, smoke
  CHECK(cells >= 8 * 7 + 8 * 6 + 8 * 2);
}
