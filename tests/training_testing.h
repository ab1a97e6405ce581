#pragma once
// Training on synthetic data, shared by the CPU and CUDA training tests: a tiny lightweight-conv run (dropout on,
// so the generators' states matter) over a deterministic copy task.
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/run_dir.h"
#include "training/trainer.h"

namespace convpt::test {

// Deterministic synthetic data: batch i depends only on (seed, i); targets copy the first inputs reversed.
class CopySource : public training::BatchSource {
 public:
  CopySource(uint64_t seed, torch::Device device) : seed_(seed), device_(device) {}
  training::TensorBatch next() override {
    torch::Generator generator = at::detail::createCPUGenerator(seed_ * 1000003 + position_++);
    const torch::Tensor inputs = torch::randint(2, 40, {4, 8}, generator, torch::kLong);
    const torch::Tensor targets =
        torch::cat({inputs.narrow(1, 0, 3).flip(1), torch::full({4, 1}, models::kEosId, torch::kLong)}, 1);
    return {inputs.to(device_), targets.to(device_)};
  }
  std::string state() const override { return std::to_string(position_); }
  void restore(const std::string& state) override { position_ = std::stoll(state); }

 private:
  uint64_t seed_;
  torch::Device device_;
  int64_t position_ = 0;
};

inline config::Config tiny_run(const std::filesystem::path& output_dir, const std::string& name, int64_t steps) {
  config::Config c;
  c.run.output_dir = output_dir.string();
  c.run.name = name;
  c.model.arch = "lightconv";
  c.model.vocab_size = 40;
  c.data.sentinels = 10;
  c.data.vocab_pieces = 30;
  c.model.d_model = 16;
  c.model.d_ff = 32;
  c.model.num_heads = 2;
  c.model.d_kv = 8;
  c.model.encoder_layers = c.model.decoder_layers = 1;
  c.model.dropout = 0.1;  // exercises the RNG state in checkpoints
  c.model.max_positions = 16;
  c.model.kernel_sizes = {3};
  c.pretrain.steps = steps;
  c.pretrain.optimizer = "adafactor";
  c.pretrain.schedule = "rsqrt";
  c.pretrain.learning_rate = 0.1;
  c.pretrain.warmup_steps = 2;
  c.pretrain.log_every = 1;
  c.pretrain.eval_every = 1000;
  c.pretrain.checkpoint_every = 2;
  c.pretrain.keep_checkpoints = 3;
  return c;
}

inline std::vector<std::string> losses(const std::filesystem::path& metrics) {
  std::ifstream in(metrics);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    const auto start = line.find("\"loss\": ");
    if (start != std::string::npos) out.push_back(line.substr(start, line.find(',', start) - start));
  }
  return out;
}

inline training::TrainOutcome train(const config::Config& c, uint64_t init_seed,
                                   const std::function<void(training::Trainer&)>& before = {},
                                   torch::Device device = torch::kCPU) {
  torch::manual_seed(init_seed);
  models::Seq2SeqModel model(c.model);
  model->to(device);
  CopySource data(7, device);
  const RunDir run = RunDir::create(c, "pretrain", /*allow_existing=*/true);
  training::Trainer trainer(c, run, model, data, {c.pretrain, {}, ""});
  if (before) before(trainer);
  return trainer.run();
}

}  // namespace convpt::test
