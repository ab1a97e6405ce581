#include "eval/metrics.h"

#include <sstream>
#include <stdexcept>

#include "core/json.h"

namespace convpt::eval {

ConfusionMatrix::ConfusionMatrix(int64_t classes) : classes_(classes), counts_(classes * classes, 0) {
  if (classes < 1) throw std::invalid_argument("a confusion matrix needs at least one class");
}

void ConfusionMatrix::add(int64_t gold, int64_t predicted) {
  if (gold < 0 || gold >= classes_ || predicted < 0 || predicted >= classes_)
    throw std::out_of_range("class index outside [0, " + std::to_string(classes_) + ")");
  ++counts_[gold * classes_ + predicted];
  ++examples_;
}

double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int64_t c = 0; c < classes_; ++c) correct += count(c, c);
  return examples_ ? double(correct) / double(examples_) : 0.0;
}

double ConfusionMatrix::f1(int64_t positive) const {
  int64_t predicted = 0, gold = 0;
  for (int64_t c = 0; c < classes_; ++c) predicted += count(c, positive), gold += count(positive, c);
  const int64_t true_positive = count(positive, positive);
  return predicted + gold ? 2.0 * double(true_positive) / double(predicted + gold) : 0.0;
}

double ConfusionMatrix::macro_f1() const {
  double sum = 0;
  for (int64_t c = 0; c < classes_; ++c) sum += f1(c);
  return sum / double(classes_);
}

std::string ConfusionMatrix::to_json(const std::vector<std::string>& labels) const {
  std::ostringstream out;
  out << "{\"examples\": " << examples_ << ", \"accuracy\": " << json::number(accuracy())
      << ", \"f1\": " << json::number(task_f1()) << ", \"f1_kind\": \"" << (classes_ == 2 ? "binary" : "macro")
      << "\", \"f1_per_class\": [";
  for (int64_t c = 0; c < classes_; ++c) out << (c ? ", " : "") << json::number(f1(c));
  out << "], \"labels\": [";
  for (size_t i = 0; i < labels.size(); ++i) out << (i ? ", " : "") << json::quote(labels[i]);
  out << "], \"confusion\": [";
  for (int64_t g = 0; g < classes_; ++g) {
    out << (g ? ", " : "") << "[";
    for (int64_t p = 0; p < classes_; ++p) out << (p ? ", " : "") << count(g, p);
    out << "]";
  }
  out << "]}";
  return out.str();
}

}  // namespace convpt::eval
