#include "training/data_sources.h"

#include <algorithm>

#include "training/precision.h"

namespace convpt::training {

TensorBatch to_tensors(const data::Batch& batch, torch::Device device) {
  auto tensor = [&](const std::vector<int32_t>& ids, int64_t length) {
    return torch::from_blob(const_cast<int32_t*>(ids.data()), {batch.batch_size, length}, torch::kInt32)
        .to(device, torch::kLong);  // a copy: the batch's storage is reused by the stream
  };
  return {tensor(batch.inputs, batch.input_length), tensor(batch.targets, batch.target_length)};
}

double validation_loss(models::Seq2SeqModelImpl& model, const data::ShardReader& shard,
                       const data::PretrainOptions& options, int64_t max_batches, torch::Device device,
                       const std::string& precision, DataParallel& parallel) {
  torch::NoGradGuard no_grad;
  data::PretrainOptions single_pass = options;
  single_pass.order.shuffle = false;
  single_pass.order.repeat = false;
  data::PretrainBatches stream(shard, single_pass);
  double loss_sum = 0;
  int64_t tokens = 0;
  data::Batch batch;
  for (int64_t i = 0; i < max_batches && stream.next(batch); ++i) {
    const TensorBatch b = to_tensors(batch, device);
    const Autocast autocast(precision, device);
    const models::LossOutput out = model.loss(b.inputs, b.targets);
    loss_sum += out.cross_entropy.item<double>() * double(out.target_tokens);
    tokens += out.target_tokens;
  }
  const std::vector<double> total = parallel.sum({loss_sum, double(tokens)});
  if (total[1] == 0) throw std::runtime_error("the validation shard yields no batch of this size");
  return total[0] / total[1];
}

torch::Tensor score_label_words(models::Seq2SeqModelImpl& model, const std::vector<data::Seq2SeqExample>& examples,
                                const std::vector<std::vector<int32_t>>& label_ids, int64_t batch_size,
                                int64_t input_length, torch::Device device, const std::string& precision) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> candidates;
  for (const auto& ids : label_ids) candidates.emplace_back(ids.begin(), ids.end());
  std::vector<torch::Tensor> scores;
  for (size_t start = 0; start < examples.size(); start += batch_size) {
    const size_t end = std::min(examples.size(), start + static_cast<size_t>(batch_size));
    // Inputs truncated like the training batches (input_length - 1 tokens, then EOS), padded to the longest.
    std::vector<std::vector<int64_t>> rows;
    int64_t longest = 0;
    for (size_t i = start; i < end; ++i) {
      const auto& ids = examples[i].inputs;
      std::vector<int64_t> row(ids.begin(), ids.begin() + std::min<int64_t>(ids.size(), input_length - 1));
      row.push_back(models::kEosId);
      longest = std::max<int64_t>(longest, row.size());
      rows.push_back(std::move(row));
    }
    torch::Tensor inputs = torch::full({int64_t(rows.size()), longest}, models::kPadId, torch::kLong);
    for (size_t r = 0; r < rows.size(); ++r)
      inputs[r].narrow(0, 0, int64_t(rows[r].size())).copy_(torch::tensor(rows[r], torch::kLong));
    const Autocast autocast(precision, device);
    scores.push_back(model.score_candidates(inputs.to(device), candidates).to(torch::kCPU, torch::kFloat));
  }
  if (scores.empty()) return torch::empty({0, int64_t(label_ids.size())});
  return torch::cat(scores);
}

eval::ConfusionMatrix classify(models::Seq2SeqModelImpl& model, const std::vector<data::Seq2SeqExample>& examples,
                               const std::vector<std::vector<int32_t>>& label_ids, int64_t batch_size,
                               int64_t input_length, torch::Device device, const std::string& precision) {
  // Every gold label is known before any compute: an unlabelled split fails at once, naming the problem.
  std::vector<int64_t> gold(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto found = std::find(label_ids.begin(), label_ids.end(), examples[i].targets);
    if (found == label_ids.end())
      throw std::runtime_error("example " + std::to_string(i) + (examples[i].targets.empty()
                                                                     ? " has no label (an unlabelled split?)"
                                                                     : " has a target that is none of the label words"));
    gold[i] = found - label_ids.begin();
  }
  const torch::Tensor predicted =
      score_label_words(model, examples, label_ids, batch_size, input_length, device, precision).argmax(1);
  eval::ConfusionMatrix confusion(static_cast<int64_t>(label_ids.size()));
  for (size_t i = 0; i < examples.size(); ++i) confusion.add(gold[i], predicted[int64_t(i)].item<int64_t>());
  return confusion;
}

eval::ConfusionMatrix classify(models::Seq2SeqModelImpl& model, const std::vector<data::Seq2SeqExample>& examples,
                               const std::vector<std::vector<int32_t>>& label_ids, int64_t batch_size,
                               int64_t input_length, torch::Device device, const std::string& precision,
                               DataParallel& parallel) {
  std::vector<data::Seq2SeqExample> share;
  for (size_t i = size_t(parallel.rank()); i < examples.size(); i += size_t(parallel.world_size()))
    share.push_back(examples[i]);
  const eval::ConfusionMatrix mine = classify(model, share, label_ids, batch_size, input_length, device, precision);
  const int64_t classes = mine.classes();
  std::vector<double> counts;
  for (int64_t gold = 0; gold < classes; ++gold)
    for (int64_t predicted = 0; predicted < classes; ++predicted) counts.push_back(double(mine.count(gold, predicted)));
  counts = parallel.sum(counts);
  eval::ConfusionMatrix all(classes);
  for (int64_t cell = 0; cell < classes * classes; ++cell)
    for (int64_t n = 0; n < int64_t(counts[size_t(cell)]); ++n) all.add(cell / classes, cell % classes);
  return all;
}

}  // namespace convpt::training
