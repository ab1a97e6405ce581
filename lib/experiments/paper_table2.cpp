#include "experiments/paper_table2.h"

#include <map>

namespace convpt::experiments {
namespace {

// ../shared/paper.md, "Table 2 of the paper".
struct Row {
  const char* arch;
  const char* row;
  double civil_acc, civil_f1, wiki_acc, wiki_f1, imdb, sst2, s140, trec, ag_news;
};
constexpr Row kTable2[] = {
    {"transformer", "scratch", 77.22, 85.09, 91.93, 95.45, 84.81, 78.44, 58.84, 78.00, 84.25},
    {"lightconv", "scratch", 78.58, 85.82, 91.05, 94.65, 85.88, 81.65, 60.64, 82.20, 87.22},
    {"dilatedconv", "scratch", 79.94, 86.50, 92.29, 94.91, 85.84, 79.01, 55.62, 79.60, 81.24},
    {"dynamicconv", "scratch", 78.49, 84.71, 90.06, 95.66, 85.69, 82.80, 60.84, 80.20, 85.13},
    {"transformer", "pretrained", 81.16, 86.56, 91.46, 95.12, 94.16, 92.09, 61.65, 93.60, 93.54},
    {"lightconv", "pretrained", 81.47, 87.58, 93.61, 96.48, 93.60, 92.20, 61.65, 93.60, 93.63},
    {"dilatedconv", "pretrained", 81.67, 87.78, 93.84, 96.21, 93.92, 92.09, 62.85, 94.20, 93.26},
    {"dynamicconv", "pretrained", 81.83, 87.71, 93.76, 96.53, 93.35, 91.59, 62.45, 92.40, 93.93},
};

}  // namespace

std::optional<PaperScore> paper_score(const std::string& arch, const std::string& row, const std::string& dataset) {
  for (const Row& r : kTable2) {
    if (arch != r.arch || row != r.row) continue;
    if (dataset == "civil_comments") return PaperScore{r.civil_acc, r.civil_f1};
    if (dataset == "wiki_toxic") return PaperScore{r.wiki_acc, r.wiki_f1};
    if (dataset == "imdb") return PaperScore{r.imdb, std::nullopt};
    if (dataset == "sst2") return PaperScore{r.sst2, std::nullopt};
    if (dataset == "sentiment140") return PaperScore{r.s140, std::nullopt};
    if (dataset == "trec") return PaperScore{r.trec, std::nullopt};
    if (dataset == "ag_news") return PaperScore{r.ag_news, std::nullopt};
  }
  return std::nullopt;
}

std::string dataset_title(const std::string& dataset) {
  static const std::map<std::string, std::string> titles = {
      {"civil_comments", "CivilComments"}, {"wiki_toxic", "WikiToxic"}, {"imdb", "IMDb"}, {"sst2", "SST-2"},
      {"sentiment140", "S140"}, {"trec", "TREC"}, {"ag_news", "AG News"}};
  const auto it = titles.find(dataset);
  return it == titles.end() ? dataset : it->second;
}

std::string arch_title(const std::string& arch) {
  static const std::map<std::string, std::string> titles = {
      {"transformer", "Transformer"}, {"lightconv", "Lightweight"}, {"dilatedconv", "Dilated"},
      {"dynamicconv", "Dynamic"}};
  const auto it = titles.find(arch);
  return it == titles.end() ? arch : it->second;
}

}  // namespace convpt::experiments
