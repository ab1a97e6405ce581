#pragma once
// Checkpoints: one directory per saved step, written atomically, readable from Python.
//
//   <run>/checkpoints/step-00001000/
//     model.safetensors    the model's parameters by name (the names of `convpt info`), in the safetensors
//                          format: Python reads it with `safetensors.torch.load_file`, no pickled code involved
//     trainer.safetensors  optimiser slots ("optimizer/<parameter>/<slot>", "optimizer/step"), the generators' states
//                          ("rng/cpu", and "rng/cuda" from a run on a GPU)
//     meta.json            step, data position, the best evaluation so far, the tokenizer's fingerprint, and
//                          what produced it (convpt version, architecture)
//     config.yaml          the run's resolved config (the model section decides whether a checkpoint fits a model)
//   <run>/checkpoints/latest   the name of the newest complete checkpoint
//
// A checkpoint is written into "<name>.partial", every file fsynced, then renamed: an interrupted write leaves
// the previous checkpoints untouched and loadable.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "config/config.h"
#include "training/optimizer.h"

namespace convpt::training {

struct CheckpointContents {
  int64_t step = 0;
  std::string data_state;  // the batch source's position, opaque here
  StateDict model;         // parameter name -> tensor
  StateDict optimizer;
  StateDict rng;            // generator states: "cpu" (LibTorch's default), "cuda" (the run's device's, on a GPU)
  config::Config config;
  // The run's evaluation so far: fine-tuning's best (the dev scores of <run>/best and "best_step"), pre-training's
  // latest (it selects nothing); empty when none.
  std::map<std::string, double> best_evaluation;
  // The fingerprint of the tokenizer whose ids the model was trained on (tokenizer::Tokenizer::fingerprint);
  // empty in checkpoints written before convpt recorded it.
  std::string tokenizer_fingerprint;
};

// Throws when a checkpoint's model was trained on the ids of another tokenizer than `fingerprint` (the same ids
// would mean other pieces); `checkpoint` and `tokenizer` name them in the message. A checkpoint that records no
// tokenizer (written before convpt recorded it) passes, with a warning.
void check_same_tokenizer(const CheckpointContents& contents, const std::string& checkpoint,
                          const std::string& fingerprint, const std::string& tokenizer);

// Writes <checkpoints_dir>/step-<step>, points `latest` at it, and removes the oldest beyond `keep`.
std::filesystem::path save_checkpoint(const std::filesystem::path& checkpoints_dir, const CheckpointContents& contents,
                                      int64_t keep);

// Reads a checkpoint directory, or the one that `latest` names in a directory of checkpoints (checkpoints/, best/),
// or the newest of a run directory.
// Throws std::runtime_error naming the file when it is missing or corrupt.
CheckpointContents load_checkpoint(const std::filesystem::path& path);

// The checkpoint directory that load_checkpoint(path) reads. Throws when there is none.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& path);

// A fingerprint of the weights load_checkpoint(path) reads (a hash of its model.safetensors): a fine-tuning run records
// its initial weights' fingerprint, so that one from another pre-training under the same path is told apart.
std::string weights_fingerprint(const std::filesystem::path& path);

// The newest complete checkpoint under a run directory, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir);

// Empty when `checkpoint` fits a model built from `wanted`; otherwise one line per differing model key,
// e.g. "model.d_model: checkpoint 512, config 768". Dropout may differ (fine-tuning often changes it).
std::string model_differences(const config::ModelConfig& checkpoint, const config::ModelConfig& wanted);

StateDict named_state(const torch::nn::Module& module);                   // parameters and buffers by name
void load_named_state(torch::nn::Module& module, const StateDict& state);  // throws on any missing/mis-shaped entry

}  // namespace convpt::training
