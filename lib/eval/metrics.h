#pragma once
// Classification metrics from (gold, predicted) class indices: accuracy, F1 (binary: of the positive class 1;
// otherwise macro-averaged over classes), and the confusion matrix.
#include <cstdint>
#include <string>
#include <vector>

namespace convpt::eval {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t classes);
  void add(int64_t gold, int64_t predicted);  // throws std::out_of_range for an index outside [0, classes)

  int64_t classes() const { return classes_; }
  int64_t examples() const { return examples_; }
  int64_t count(int64_t gold, int64_t predicted) const { return counts_[gold * classes_ + predicted]; }

  double accuracy() const;
  double f1(int64_t positive_class) const;  // 0 when the class is never predicted and never gold
  double macro_f1() const;
  // The task's F1: binary F1 of class 1 for two classes, macro F1 otherwise.
  double task_f1() const { return classes_ == 2 ? f1(1) : macro_f1(); }

  // {"examples": n, "accuracy": a, "f1": f, "f1_kind": "binary"|"macro", "f1_per_class": [...], "labels": [...],
  //  "confusion": [[...]]}, numbers written to full precision
  std::string to_json(const std::vector<std::string>& labels) const;

 private:
  int64_t classes_;
  int64_t examples_ = 0;
  std::vector<int64_t> counts_;  // gold-major
};

}  // namespace convpt::eval
