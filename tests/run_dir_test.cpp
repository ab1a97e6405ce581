// Run directories: resolved config written, no silent reuse; whole-file reads and atomic writes.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/files.h"
#include "core/run_dir.h"
#include "temp_dir.h"

using namespace convpt;

TEST_CASE("a run directory holds the resolved config and a log", "[run_dir]") {
  test::TempDir dir;
  config::Config c = config::load_config(dir.write("exp.yaml", "model: {arch: lightconv, d_model: 64, num_heads: 4}\n"),
                                         {"run.output_dir=" + (dir.path() / "runs").string(), "run.name=r"});
  const RunDir run = RunDir::create(c, "pretrain");
  CHECK(run.path() == dir.path() / "runs" / "r");
  CHECK(config::load_config(run.file("config.yaml")) == c);
  CHECK(std::filesystem::exists(run.file("log.txt")));
  SECTION("an existing run is not overwritten") {
    CHECK_THROWS_WITH(RunDir::create(c, "pretrain"), Catch::Contains("already holds a run"));
  }
}

TEST_CASE("a run is the same run only with the same settings and initial weights", "[run_dir]") {
  test::TempDir dir;
  const auto config_with = [&](std::vector<std::string> overrides) {
    overrides.insert(overrides.end(), {"run.output_dir=" + (dir.path() / "runs").string(), "run.name=r",
                                       "finetune.task=trec", "finetune.init=runs/pt"});
    return config::load_config(dir.write("exp.yaml", "model: {arch: lightconv, d_model: 64, num_heads: 4}\n"),
                               overrides);
  };
  const config::Config c = config_with({"finetune.steps=100"});
  const RunDir run = RunDir::create(c, "finetune", false, "fnv1a64:0000000000000001");
  const auto differs = [&](const config::Config& now, RunReuse reuse, const std::string& weights = "") {
    return how_run_differs(run.path(), now, "finetune", weights, reuse);
  };
  for (const RunReuse reuse : {RunReuse::finished_results, RunReuse::resume}) {
    CHECK(differs(c, reuse).empty());
    CHECK(differs(c, reuse, "fnv1a64:0000000000000001").empty());
    // Logging and checkpointing change neither the weights nor which are kept.
    CHECK(differs(config_with({"finetune.steps=100", "finetune.log_every=1", "finetune.checkpoint_every=7",
                               "finetune.keep_checkpoints=9", "run.threads=3"}),
                  reuse)
              .empty());
    CHECK(differs(config_with({"finetune.steps=100", "finetune.learning_rate=0.5", "finetune.optimizer=adamw"}),
                  reuse) ==
          "holds a run with finetune.optimizer adafactor, not adamw; finetune.learning_rate 0.001, not 0.5");
    CHECK(differs(config_with({"finetune.steps=100", "model.dropout=0"}), reuse) ==
          "holds a run with model.dropout 0.1, not 0");
    CHECK_THAT(differs(c, reuse, "fnv1a64:0000000000000002"),
               Catch::Contains("from other weights than runs/pt holds now (fnv1a64:0000000000000001, now "
                               "fnv1a64:0000000000000002)"));
  }
  // A resume may add steps; finished results of fewer steps are not the run a grid asks for.
  CHECK(differs(config_with({"finetune.steps=200"}), RunReuse::resume).empty());
  CHECK(differs(config_with({"finetune.steps=200"}), RunReuse::finished_results) ==
        "holds a run with finetune.steps 100, not 200");
  // --resume with other settings is refused before the run directory is touched.
  const config::Config other_rate = config_with({"finetune.steps=100", "finetune.learning_rate=0.5"});
  CHECK_THROWS_WITH(RunDir::create(other_rate, "finetune", true),
                    Catch::Contains("holds a run with finetune.learning_rate 0.001, not 0.5, which finetune --resume "
                                    "cannot continue"));
  CHECK(config::load_config(run.file("config.yaml")) == c);
}

TEST_CASE("unnamed runs get command, arch and time in their name", "[run_dir]") {
  test::TempDir dir;
  config::Config c;
  c.model.arch = "transformer";
  c.run.output_dir = dir.path().string();
  const RunDir run = RunDir::create(c, "finetune");
  CHECK(run.path().filename().string().rfind("finetune-transformer-", 0) == 0);
}

TEST_CASE("atomic writes replace the whole file and leave no temporary", "[run_dir]") {
  test::TempDir dir;
  const auto file = dir.path() / "f.txt";
  write_file_atomically(file, "first");
  write_file_atomically(file, "second");
  CHECK(read_file(file) == "second");
  CHECK_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  CHECK_THROWS_WITH(write_file_atomically(dir.path() / "no" / "such" / "dir.txt", "x"), Catch::Contains("cannot create"));
}

TEST_CASE("whole-file reads: bytes as written, nothing for a missing file, an error for an unreadable one", "[run_dir]") {
  test::TempDir dir;
  const std::string bytes = std::string("a\0b\nc\r\n", 7) + std::string(200000, 'x');  // > one read() buffer
  write_file_atomically(dir.path() / "bytes", bytes);
  CHECK(read_file(dir.path() / "bytes") == bytes);
  write_file_atomically(dir.path() / "empty", "");
  CHECK(read_file(dir.path() / "empty") == std::string());
  CHECK_FALSE(read_file(dir.path() / "missing").has_value());
  CHECK_THROWS_WITH(read_file(dir.path()), Catch::Contains("cannot read " + dir.path().string() + ": Is a directory"));
}

TEST_CASE("a run lock is held by one holder at a time and dropped with it", "[run_dir]") {
  test::TempDir dir;
  const auto path = dir.path() / "cell.lock";
  std::optional<RunLock> first(std::in_place, path, RunLock::Mode::try_once);
  REQUIRE(first->held());
  // flock locks belong to an open file description, so a second open in this process contends like another process.
  CHECK_FALSE(RunLock(path, RunLock::Mode::try_once).held());
  first.reset();
  CHECK(RunLock(path, RunLock::Mode::try_once).held());
  CHECK(RunLock(path, RunLock::Mode::wait).held());
  CHECK_THROWS_WITH(RunLock(dir.path() / "missing" / "x.lock", RunLock::Mode::try_once),
                    Catch::Contains("missing/x.lock"));
}
