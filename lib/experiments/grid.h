#pragma once
// The Table 2 grid of `convpt reproduce`: which cells exist, what each one produced, and the table that puts our
// numbers beside the paper's with an explicit check of the paper's findings.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/yaml_tree.h"

namespace convpt::experiments {

// One fine-tuning run: an architecture, from scratch or pre-trained, on one dataset, with one seed.
struct Cell {
  std::string arch, row, dataset;  // row: scratch | pretrained
  // A fine-tuning seed besides grid.seed (grid.finetune_seeds); none: grid.seed, whose runs keep the plain name
  // that grids of one seed have always used.
  std::optional<int64_t> other_seed = std::nullopt;
  std::string run_name() const {
    return dataset + "-" + arch + "-" + row + (other_seed ? "-seed" + std::to_string(*other_seed) : "");
  }
};

// The grid's cells, seed by seed (grid.cell_seeds() in order), each seed in the paper's order (scratch rows, then
// pretrained; architectures as listed), restricted to `rows`, `datasets` and `seeds` when non-empty. A row filter
// entry is "scratch", "pretrained", an architecture (both of its rows) or "<arch>-<row>"; an entry that matches
// nothing in the grid is an error naming it.
std::vector<Cell> grid_cells(const config::GridSpec& grid, const std::vector<std::string>& rows = {},
                             const std::vector<std::string>& datasets = {}, const std::vector<int64_t>& seeds = {});

// Where a grid's runs go and how their configs are composed: the grid's files (relative to the grid file, with
// "{arch}" and "{dataset}" replaced) merged in order, the model section replaced by the model file's, then
// run.output_dir/name/seed, model.arch and, for fine-tuning, finetune.task and finetune.init (the architecture's
// pre-training run for the pretrained row).
class GridLayout {
 public:
  GridLayout(std::filesystem::path grid_file, config::GridSpec grid);
  const config::GridSpec& grid() const { return grid_; }
  // The grid whose pre-trainings the pretrained rows start from: grid.pretrain_from's, else this one.
  const config::GridSpec& pretrain_grid() const { return pretrain_source_ ? pretrain_source_->grid_ : grid_; }
  std::filesystem::path runs_dir() const;     // <output_dir>/<name>
  std::filesystem::path results_dir() const;  // <results_dir>/<name>
  std::filesystem::path pretrain_run(const std::string& arch) const;  // under pretrain_grid()'s runs
  std::filesystem::path cell_run(const Cell& cell) const;
  std::filesystem::path tokenizer_file() const;
  // `overrides` (e.g. the user's --set) come before the grid's own settings. A pre-training is composed by
  // pretrain_grid()'s layout.
  config::Config pretrain_config(const std::string& arch, const std::vector<std::string>& overrides = {}) const;
  config::Config finetune_config(const Cell& cell, const std::vector<std::string>& overrides = {}) const;
  // Refuses (ConfigError) an override of a key the grid sets for every run (grid_set_keys), which would otherwise
  // be silently replaced. The grid's files are refused such keys when a config is composed.
  void refuse_grid_settings(const std::vector<std::string>& overrides) const;
  // Every file the grid merges for some cell (the tokenizer config included), without duplicates.
  std::vector<std::filesystem::path> files() const;

 private:
  std::filesystem::path source(const std::string& file, const std::string& arch, const std::string& dataset) const;
  config::Config compose(const std::vector<std::string>& files, const std::string& arch, const std::string& dataset,
                         const std::vector<std::string>& settings) const;
  // The keys the grid sets for every run (run.seed, run.output_dir, run.name, model.arch, finetune.task,
  // finetune.init), each with what it is set from.
  std::vector<std::pair<std::string, std::string>> grid_set_keys() const;
  std::vector<std::string> run_settings(const std::filesystem::path& run_dir, const std::string& arch, int64_t seed,
                                        std::vector<std::string> overrides) const;
  std::filesystem::path grid_file_;
  config::GridSpec grid_;
  std::shared_ptr<const GridLayout> pretrain_source_;  // grid.pretrain_from's layout, if it names one
};

// What a finished fine-tuning run reports (its results.json) plus the wall time `reproduce` measured.
struct CellResult {
  std::string metric;  // the task's selection metric: accuracy, or f1 for the toxicity tasks
  double accuracy = 0, f1 = 0;
  int64_t examples = 0;
  int64_t best_step = 0;
  bool sample_only = false;  // the dataset here is only a sample (or unofficial test labels): see MANIFEST.md
  double wall_seconds = 0;
};
// Reads <run_dir>/results.json and, when present, the wall time in <run_dir>/reproduce.json. Throws naming the file.
CellResult read_cell_result(const std::filesystem::path& run_dir);
// The wall time `reproduce` recorded for a run (<run_dir>/reproduce.json, summed over sittings); 0 when none.
double recorded_wall_seconds(const std::filesystem::path& run_dir);

struct GridReport {
  config::GridSpec grid;
  config::GridSpec pretrain_grid;             // where the pre-trainings come from (GridLayout::pretrain_grid())
  std::vector<Cell> cells;                    // every cell of the grid, run or not
  std::map<std::string, CellResult> results;  // by Cell::run_name(), the finished ones
  std::map<std::string, double> pretrain_seconds;  // by architecture
  std::map<std::string, int> runs_by_commit;       // commit of the final checkpoint -> finished runs
  std::string command, commit;                     // commit: the binary that rendered the table
};

// results/<grid>/table2.md: ours beside the paper's, gains from pre-training, the findings check, provenance. With
// several fine-tuning seeds, each of our cells is the mean over the seeds finished, with their standard deviation.
std::string table2_markdown(const GridReport& report);
// results/<grid>/table2.csv: one line per (cell, seed, metric) with the paper's value beside ours.
std::string table2_csv(const GridReport& report);

}  // namespace convpt::experiments
