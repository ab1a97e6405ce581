#pragma once
// The training loop shared by pre-training and fine-tuning: gradient accumulation, clipping, z-loss, optional
// bf16 autocast, schedules, periodic evaluation, metrics.jsonl, atomic checkpoints with exact resume, a NaN/Inf
// guard, and SIGINT/SIGTERM handling (checkpoint, then a clean exit).
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "config/config.h"
#include "core/run_dir.h"
#include "models/seq2seq.h"
#include "training/optimizer.h"

namespace convpt::training {

struct TensorBatch {
  torch::Tensor inputs;   // [B, L_in] int64, padded with kPadId
  torch::Tensor targets;  // [B, L_out] int64, padded with kPadId
};

// An endless, restartable stream of batches: after restore(state()), next() continues exactly.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual TensorBatch next() = 0;
  virtual std::string state() const = 0;
  virtual void restore(const std::string& state) = 0;
};

using Evaluation = std::map<std::string, double>;

enum class StopReason { finished, interrupted, non_finite_loss };

struct TrainOutcome {
  StopReason reason = StopReason::finished;
  int64_t step = 0;
  std::string message;
  Evaluation best;  // the best evaluation by `select_metric` (fine-tuning), else the last one
};

struct TrainerOptions {
  config::TrainConfig settings;
  std::function<Evaluation()> evaluate;  // run every eval_every steps and at the end; may be empty
  std::string select_metric;             // keep the model with the highest value of this metric in <run>/best/
};

class Trainer {
 public:
  Trainer(const config::Config& config, const RunDir& run, models::Seq2SeqModel model, BatchSource& data,
          TrainerOptions options);

  // Continues from a checkpoint (model, optimiser, RNG, data position, step). Refuses one from another model.
  void resume(const std::filesystem::path& checkpoint);
  TrainOutcome run();
  int64_t step() const { return step_; }

 private:
  void save();
  config::Config config_;
  RunDir run_;
  models::Seq2SeqModel model_;
  BatchSource& data_;
  TrainerOptions options_;
  std::unique_ptr<Optimizer> optimizer_;
  int64_t step_ = 0;
  Evaluation best_;  // the best evaluation so far by `select_metric`; saved in checkpoints so a resume keeps it
};

std::unique_ptr<Optimizer> make_optimizer(const config::TrainConfig& settings, const NamedParameters& parameters);

}  // namespace convpt::training
