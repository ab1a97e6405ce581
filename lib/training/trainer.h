#pragma once
// The training loop shared by pre-training and fine-tuning: gradient accumulation, clipping, z-loss, optional
// bf16 autocast, schedules, periodic evaluation, metrics.jsonl, atomic checkpoints with exact resume, a NaN/Inf
// guard, and SIGINT/SIGTERM handling (checkpoint, then a clean exit).
//
// Data parallelism (see distributed.h): every rank runs this loop on its share of each batch; the loss of a step
// is the mean over the target tokens of the whole (global) batch, as in a single process; all ranks stop at the
// same step; only rank 0 writes metrics and checkpoints.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "config/config.h"
#include "core/run_dir.h"
#include "models/seq2seq.h"
#include "training/distributed.h"
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
  std::function<Evaluation()> evaluate;  // run every eval_every steps and at the end, by every rank; may be empty
  std::string select_metric;             // keep the model with the highest value of this metric in <run>/best/
  std::shared_ptr<DataParallel> parallel;  // null: a single process
  std::string tokenizer_fingerprint;       // of the tokenizer that made the data: saved in every checkpoint
};

class Trainer {
 public:
  // `run`: where rank 0 writes; the other ranks of a data-parallel run pass none. Data-parallel ranks start from
  // rank 0's initial parameters.
  Trainer(const config::Config& config, const std::optional<RunDir>& run, models::Seq2SeqModel model,
          BatchSource& data, TrainerOptions options);

  // Continues from a checkpoint (model, optimiser, RNG, data position, step). Refuses one from another model.
  // Every rank reads it: with several machines, the run directory must be on a filesystem they share.
  void resume(const std::filesystem::path& checkpoint);
  // Throws when a collective fails (another rank died or hung), naming this rank and where to resume from.
  TrainOutcome run();
  int64_t step() const { return step_; }

 private:
  TrainOutcome train();
  void save();
  // The generators the run draws from: the CPU's (data order, dropout on the CPU) and its GPU's (dropout there).
  StateDict generator_states() const;
  void restore_generators(const StateDict& states, const std::filesystem::path& checkpoint);
  std::string last_checkpoint() const;  // for messages
  config::Config config_;
  std::optional<RunDir> run_;
  models::Seq2SeqModel model_;
  BatchSource& data_;
  TrainerOptions options_;
  std::shared_ptr<DataParallel> parallel_;
  std::unique_ptr<Optimizer> optimizer_;
  int64_t step_ = 0;
  Evaluation best_;  // the best evaluation so far by `select_metric`; saved in checkpoints so a resume keeps it
};

std::unique_ptr<Optimizer> make_optimizer(const config::TrainConfig& settings, const NamedParameters& parameters);

}  // namespace convpt::training
