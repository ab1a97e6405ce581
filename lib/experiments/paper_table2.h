#pragma once
// Table 2 of Tay et al. (ACL 2021): accuracy (%) per model and dataset, and binary F1 for the toxicity tasks.
#include <optional>
#include <string>

namespace convpt::experiments {

struct PaperScore {
  double accuracy = 0;
  std::optional<double> f1;  // the toxicity tasks only
};

// The paper's score for an architecture (transformer, lightconv, dilatedconv, dynamicconv), a row (scratch or
// pretrained) and one of our task names; nullopt when the paper has no such cell.
std::optional<PaperScore> paper_score(const std::string& arch, const std::string& row, const std::string& dataset);

// How the paper names a dataset and an architecture ("SST-2", "Lightweight").
std::string dataset_title(const std::string& dataset);
std::string arch_title(const std::string& arch);

}  // namespace convpt::experiments
