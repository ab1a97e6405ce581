// Run directories: resolved config written, no silent reuse, atomic writes.
#include <catch2/catch.hpp>

#include <fstream>
#include <optional>
#include <sstream>

#include "config/config.h"
#include "core/run_dir.h"
#include "temp_dir.h"

using namespace convpt;

namespace {
std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

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
  CHECK(read(file) == "second");
  CHECK_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  CHECK_THROWS_WITH(write_file_atomically(dir.path() / "no" / "such" / "dir.txt", "x"), Catch::Contains("cannot create"));
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
