#pragma once
// Glue between the torch-free data layer and the trainer: batches as tensors, the trainer's restartable
// BatchSource over pre-training and fine-tuning streams, and the evaluations both runs report.
#include <memory>
#include <vector>

#include "data/batching.h"
#include "data/shards.h"
#include "eval/metrics.h"
#include "models/seq2seq.h"
#include "training/distributed.h"
#include "training/trainer.h"

namespace convpt::training {

TensorBatch to_tensors(const data::Batch& batch, torch::Device device);

// An endless stream (PretrainBatches or FinetuneBatches with repeat = true) as the trainer's BatchSource.
template <class Stream>
class StreamSource : public BatchSource {
 public:
  StreamSource(std::unique_ptr<Stream> stream, torch::Device device) : stream_(std::move(stream)), device_(device) {}
  TensorBatch next() override {
    data::Batch batch;
    if (!stream_->next(batch)) throw std::runtime_error("the training data stream ended (it should repeat)");
    return to_tensors(batch, device_);
  }
  std::string state() const override { return stream_->state().to_string(); }
  void restore(const std::string& state) override { stream_->restore(data::DataPosition::parse(state)); }

 private:
  std::unique_ptr<Stream> stream_;
  torch::Device device_;
};

// Mean loss of the model over the first `max_batches` batches of a single pass over `shard` (validation). With
// several ranks, `options` is this rank's share (options.order): each rank scores its part of those batches.
double validation_loss(models::Seq2SeqModelImpl& model, const data::ShardReader& shard,
                       const data::PretrainOptions& options, int64_t max_batches, torch::Device device,
                       const std::string& precision, DataParallel& parallel);

// Log-likelihood of each label word (as targets) for each example's inputs: [examples, label words], fp32 on the
// CPU, scored at the run's precision; inputs truncated like the training batches. Targets are not read.
torch::Tensor score_label_words(models::Seq2SeqModelImpl& model, const std::vector<data::Seq2SeqExample>& examples,
                                const std::vector<std::vector<int32_t>>& label_ids, int64_t batch_size,
                                int64_t input_length, torch::Device device, const std::string& precision);
// Text-to-text classification: each example's prediction is the label word with the highest log-likelihood
// (score_label_words), scored at the run's precision (fp32, bf16: see precision.h). Examples whose target is not one
// of the label words are an error (the data and the task disagree).
eval::ConfusionMatrix classify(models::Seq2SeqModelImpl& model, const std::vector<data::Seq2SeqExample>& examples,
                               const std::vector<std::vector<int32_t>>& label_ids, int64_t batch_size,
                               int64_t input_length, torch::Device device, const std::string& precision);
// classify() with the examples shared out over the ranks (every world_size-th), the counts summed over them.
eval::ConfusionMatrix classify(models::Seq2SeqModelImpl& model, const std::vector<data::Seq2SeqExample>& examples,
                               const std::vector<std::vector<int32_t>>& label_ids, int64_t batch_size,
                               int64_t input_length, torch::Device device, const std::string& precision,
                               DataParallel& parallel);

}  // namespace convpt::training
