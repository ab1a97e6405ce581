// Training on a GPU: an interrupted and resumed run repeats an uninterrupted one (dropout draws from the GPU's
// generator, which checkpoints keep). Without a CUDA device the test exits with code 77, which CTest reports as skipped.
#include "testing.h"  // first: see there

#include "cuda_testing.h"
#include "temp_dir.h"
#include "training/checkpoint.h"
#include "training_testing.h"

using namespace convpt;

TEST_CASE("on a GPU, N steps straight equal N/2 + resume + N/2", "[training][cuda]") {
  test::require_cuda();
  const torch::Device gpu(torch::kCUDA);
  test::TempDir dir;
  test::train(test::tiny_run(dir.path(), "straight", 8), 1, {}, gpu);
  test::train(test::tiny_run(dir.path(), "split", 4), 1, {}, gpu);
  CHECK(training::load_checkpoint(dir.path() / "split").rng.count("cuda"));
  // The resumed run starts from another initialisation and another generator state: all must come from the checkpoint.
  test::train(test::tiny_run(dir.path(), "split", 8), 99, [&](training::Trainer& t) { t.resume(dir.path() / "split"); },
              gpu);
  // The conv kernels and cuBLAS sum in a fixed order; a tolerance only absorbs other libraries' atomics, far below
  // the difference of other dropout masks.
  const auto straight = test::losses(dir.path() / "straight" / "metrics.jsonl");
  const auto split = test::losses(dir.path() / "split" / "metrics.jsonl");
  REQUIRE(straight.size() == 8);
  REQUIRE(split.size() == 8);
  const auto value = [](const std::string& field) { return std::stod(field.substr(field.find(' ') + 1)); };
  for (size_t i = 0; i < straight.size(); ++i) {
    INFO("step " << i + 1 << ": " << straight[i] << " vs " << split[i]);
    CHECK(value(split[i]) == Approx(value(straight[i])).epsilon(1e-5));
  }
}
