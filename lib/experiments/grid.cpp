#include "experiments/grid.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "core/json.h"
#include "eval/metrics.h"
#include "experiments/paper_table2.h"

namespace convpt::experiments {
namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool is_toxicity(const std::string& dataset) { return dataset == "wiki_toxic" || dataset == "civil_comments"; }

// The columns of the table: (dataset, metric) pairs; the toxicity tasks report accuracy and F1 as the paper does.
std::vector<std::pair<std::string, std::string>> columns(const config::GridSpec& grid) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& dataset : grid.datasets) {
    out.emplace_back(dataset, "accuracy");
    if (is_toxicity(dataset)) out.emplace_back(dataset, "f1");
  }
  return out;
}

double score_of(const CellResult& result, const std::string& metric) {
  return 100.0 * (metric == "f1" ? result.f1 : result.accuracy);
}

// Our scores of one (architecture, row, dataset) over the seeds finished: their mean, sample standard deviation (0
// for one seed, and not shown) and count.
struct Scores {
  double mean = 0, sd = 0;
  int n = 0;
};

std::optional<Scores> ours(const GridReport& r, const std::string& arch, const std::string& row,
                           const std::string& dataset, const std::string& metric) {
  std::vector<double> values;
  for (const Cell& cell : r.cells) {
    if (cell.arch != arch || cell.row != row || cell.dataset != dataset) continue;
    if (const auto it = r.results.find(cell.run_name()); it != r.results.end())
      values.push_back(score_of(it->second, metric));
  }
  if (values.empty()) return std::nullopt;
  Scores s;
  s.n = int(values.size());
  for (const double v : values) s.mean += v / s.n;
  for (const double v : values) s.sd += s.n > 1 ? (v - s.mean) * (v - s.mean) / (s.n - 1) : 0.0;
  s.sd = std::sqrt(s.sd);
  return s;
}

std::optional<double> mean_of(const std::optional<Scores>& scores) {
  return scores ? std::optional<double>(scores->mean) : std::nullopt;
}

std::optional<double> paper(const Cell& cell, const std::string& metric) {
  const auto score = paper_score(cell.arch, cell.row, cell.dataset);
  if (!score) return std::nullopt;
  if (metric == "f1") return score->f1;
  return score->accuracy;
}

std::string fixed(std::optional<double> value, bool sign = false) {
  if (!value) return "—";
  const double rounded = std::round(*value * 100) / 100 + 0.0;  // + 0.0: a gain of -0.004 is +0.00, not -0.00
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << (sign && rounded >= 0 ? "+" : "") << rounded;
  return out.str();
}

std::string duration(double seconds) {
  const int s = int(std::lround(seconds));
  std::ostringstream out;
  out << std::setfill('0');
  if (s >= 3600) out << s / 3600 << "h" << std::setw(2) << s / 60 % 60 << "m";
  else out << s / 60 << "m" << std::setw(2) << s % 60 << "s";
  return out.str();
}

// The primary metric of a dataset: F1 for the toxicity tasks (what the paper bolds), accuracy otherwise.
std::string primary_metric(const std::string& dataset) { return is_toxicity(dataset) ? "f1" : "accuracy"; }

// One finding over (conv architecture, dataset) pairs: how many hold, and which do not.
struct FindingCount {
  int holds = 0, total = 0;
  std::vector<std::string> failures;
};

// What a pre-trained conv is held against: its own scratch row (finding 1), or the pre-trained Transformer (2).
enum class Against { scratch, transformer };

// `value(arch, row, dataset)` gives a score or nothing; `test(conv_pretrained, other)` decides, over the pairs where
// both are measured.
template <class Value, class Test>
FindingCount count_finding(const GridReport& r, Value value, Test test, Against against) {
  FindingCount count;
  for (const auto& arch : r.grid.archs) {
    if (arch == "transformer") continue;
    for (const auto& dataset : r.grid.datasets) {
      const auto pretrained = value(arch, "pretrained", dataset);
      const auto other = against == Against::scratch ? value(arch, "scratch", dataset)
                                                     : value("transformer", "pretrained", dataset);
      if (!pretrained || !other) continue;
      ++count.total;
      if (test(*pretrained, *other)) {
        ++count.holds;
      } else {
        std::ostringstream failure;
        failure << arch_title(arch) << " on " << dataset_title(dataset) << " ("
                << (against == Against::scratch ? "gain" : "vs Transformer") << ": " << fixed(*pretrained) << " vs "
                << fixed(*other) << ")";
        count.failures.push_back(failure.str());
      }
    }
  }
  return count;
}

std::string describe(const FindingCount& c) {
  if (c.total == 0) return "not measured yet";
  std::ostringstream out;
  out << "holds for " << c.holds << " of " << c.total << " (architecture, dataset) pairs";
  for (size_t i = 0; i < c.failures.size(); ++i) out << (i ? "; " : "; not for ") << c.failures[i];
  return out.str();
}

std::string join_seeds(const std::vector<int64_t>& seeds) {
  std::string out;
  for (size_t i = 0; i < seeds.size(); ++i) out += (i ? ", " : "") + std::to_string(seeds[i]);
  return out;
}

// Finding 1 beyond the seeds' spread: pairs whose mean gain exceeds twice its standard error (sqrt(sd_p^2/n_p +
// sd_s^2/n_s)) either way, among the pairs with at least 2 seeds finished in both rows. Losses are named too: a
// pre-training that clearly hurts is a finding of its own. A rough bar, not a calibrated test: with 2-3 seeds a row
// the spread itself is poorly known.
std::string beyond_spread(const GridReport& r) {
  int total = 0;
  std::vector<std::string> gains, losses;
  for (const auto& arch : r.grid.archs) {
    if (arch == "transformer") continue;
    for (const auto& dataset : r.grid.datasets) {
      const std::string metric = primary_metric(dataset);
      const auto pretrained = ours(r, arch, "pretrained", dataset, metric),
                 scratch = ours(r, arch, "scratch", dataset, metric);
      if (!pretrained || !scratch || pretrained->n < 2 || scratch->n < 2) continue;
      ++total;
      const double error = std::sqrt(pretrained->sd * pretrained->sd / pretrained->n +
                                     scratch->sd * scratch->sd / scratch->n);
      const double gain = pretrained->mean - scratch->mean;
      if (std::abs(gain) > 2 * error)
        (gain > 0 ? gains : losses)
            .push_back(arch_title(arch) + " on " + dataset_title(dataset) + " (" + fixed(gain, true) + ", 2 SE " +
                       fixed(2 * error) + ")");
    }
  }
  if (total == 0) return "Beyond the seeds' spread: not measured (needs 2 seeds of both rows).";
  auto listed = [](const std::string& what, const std::vector<std::string>& pairs) {
    std::string out = what + " in " + std::to_string(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) out += (i ? "; " : ": ") + pairs[i];
    return out;
  };
  return "Beyond the seeds' spread (mean gain more than 2 standard errors from 0), of " + std::to_string(total) +
         " pairs with 2 or more seeds in both rows: " + listed("gains", gains) + "; " + listed("losses", losses) + ".";
}

}  // namespace

std::vector<Cell> grid_cells(const config::GridSpec& grid, const std::vector<std::string>& rows,
                             const std::vector<std::string>& datasets, const std::vector<int64_t>& seeds) {
  for (const auto& d : datasets)
    if (!contains(grid.datasets, d)) throw std::invalid_argument("--datasets: '" + d + "' is not in grid " + grid.name);
  const std::vector<int64_t> grid_seeds = grid.cell_seeds();
  for (const int64_t seed : seeds)
    if (std::find(grid_seeds.begin(), grid_seeds.end(), seed) == grid_seeds.end())
      throw std::invalid_argument("--seeds: " + std::to_string(seed) + " is not a fine-tuning seed of grid " +
                                  grid.name + " (grid.finetune_seeds, else grid.seed)");
  std::vector<Cell> cells;
  std::vector<bool> filter_used(rows.size(), false);
  for (const int64_t seed : grid_seeds) {
    if (!seeds.empty() && std::find(seeds.begin(), seeds.end(), seed) == seeds.end()) continue;
    for (const auto& row : {std::string("scratch"), std::string("pretrained")}) {
      if (!contains(grid.rows, row)) continue;
      for (const auto& arch : grid.archs) {
        bool wanted = rows.empty();
        for (size_t i = 0; i < rows.size(); ++i)
          if (rows[i] == row || rows[i] == arch || rows[i] == arch + "-" + row) wanted = filter_used[i] = true;
        if (!wanted) continue;
        for (const auto& dataset : grid.datasets)
          if (datasets.empty() || contains(datasets, dataset))
            cells.push_back({arch, row, dataset, seed == grid.seed ? std::nullopt : std::optional<int64_t>(seed)});
      }
    }
  }
  for (size_t i = 0; i < rows.size(); ++i)
    if (!filter_used[i])
      throw std::invalid_argument("--rows: '" + rows[i] + "' matches no row of grid " + grid.name +
                                  " (use scratch, pretrained, an architecture, or <arch>-<row>)");
  return cells;
}

GridLayout::GridLayout(fs::path grid_file, config::GridSpec grid)
    : grid_file_(std::move(grid_file)), grid_(std::move(grid)) {
  if (!grid_.pretrain_from.empty()) {
    const fs::path file = source(grid_.pretrain_from, "", "");
    pretrain_source_ = std::make_shared<const GridLayout>(file, config::load_grid_config(file).grid);
  }
}

fs::path GridLayout::runs_dir() const { return fs::path(grid_.output_dir) / grid_.name; }
fs::path GridLayout::results_dir() const { return fs::path(grid_.results_dir) / grid_.name; }
fs::path GridLayout::pretrain_run(const std::string& arch) const {
  return pretrain_source_ ? pretrain_source_->pretrain_run(arch) : runs_dir() / ("pretrain-" + arch);
}
fs::path GridLayout::cell_run(const Cell& cell) const { return runs_dir() / cell.run_name(); }
fs::path GridLayout::tokenizer_file() const { return source(grid_.tokenizer, "", ""); }

fs::path GridLayout::source(const std::string& file, const std::string& arch, const std::string& dataset) const {
  return (grid_file_.parent_path() / config::expand_grid_path(file, arch, dataset)).lexically_normal();
}

std::vector<std::pair<std::string, std::string>> GridLayout::grid_set_keys() const {
  return {{"run.seed", "grid.seed and grid.finetune_seeds"},
          {"run.output_dir", "grid.output_dir"},
          {"run.name", "the cell (" + runs_dir().string() + "/<run>)"},
          {"model.arch", "grid.archs"},
          {"finetune.task", "grid.datasets"},
          {"finetune.init", "the row (pretrained: the architecture's pre-training; scratch: none)"}};
}

void GridLayout::refuse_grid_settings(const std::vector<std::string>& overrides) const {
  for (const std::string& assignment : overrides) {
    const std::string key = assignment.substr(0, assignment.find('='));
    for (const auto& [grid_key, from] : grid_set_keys())
      if (key == grid_key)
        throw config::ConfigError({"--set " + assignment, 0}, key,
                                  "reproduce sets it for every run from " + from + " in " + grid_file_.string() +
                                      "; change the grid file instead");
  }
}

std::vector<std::string> GridLayout::run_settings(const fs::path& run_dir, const std::string& arch, int64_t seed,
                                                  std::vector<std::string> overrides) const {
  overrides.push_back("run.output_dir=" + run_dir.parent_path().string());
  overrides.push_back("run.name=" + run_dir.filename().string());
  overrides.push_back("run.seed=" + std::to_string(seed));
  overrides.push_back("model.arch=" + arch);
  return overrides;
}

config::Config GridLayout::compose(const std::vector<std::string>& files, const std::string& arch,
                                   const std::string& dataset, const std::vector<std::string>& settings) const {
  std::vector<fs::path> paths;
  for (const auto& f : files) paths.push_back(source(f, arch, dataset));
  config::YamlTree tree = config::YamlTree::from_files(paths);
  // The model file says model.arch; the grid's other files must not say what the grid sets.
  for (const auto& [key, from] : grid_set_keys())
    if (key != "model.arch" && tree.find(key).IsDefined())
      throw config::ConfigError(tree.origin_of(key), key,
                                "reproduce sets it for every run from " + from + " in " + grid_file_.string() +
                                    "; remove it from this file");
  tree.replace_section(config::YamlTree::from_file(source(grid_.model, arch, dataset)), "model");
  for (const auto& assignment : settings) tree.apply_override(assignment);
  return config::load_config(tree);
}

config::Config GridLayout::pretrain_config(const std::string& arch, const std::vector<std::string>& overrides) const {
  if (pretrain_source_) return pretrain_source_->pretrain_config(arch, overrides);
  return compose(grid_.pretrain, arch, "", run_settings(pretrain_run(arch), arch, grid_.seed, overrides));
}

config::Config GridLayout::finetune_config(const Cell& cell, const std::vector<std::string>& overrides) const {
  std::vector<std::string> settings =
      run_settings(cell_run(cell), cell.arch, cell.other_seed.value_or(grid_.seed), overrides);
  settings.push_back("finetune.task=" + cell.dataset);
  if (cell.row == "pretrained") settings.push_back("finetune.init=" + pretrain_run(cell.arch).string());
  return compose(grid_.finetune, cell.arch, cell.dataset, settings);
}

std::vector<fs::path> GridLayout::files() const {
  std::vector<fs::path> out = {tokenizer_file()};
  for (const auto& arch : grid_.archs)
    for (const auto& dataset : grid_.datasets) {
      out.push_back(source(grid_.model, arch, dataset));
      for (const auto& f : grid_.pretrain) out.push_back(source(f, arch, ""));
      for (const auto& f : grid_.finetune) out.push_back(source(f, arch, dataset));
    }
  if (pretrain_source_)
    for (const auto& arch : grid_.archs)
      for (const auto& f : pretrain_source_->grid_.pretrain) out.push_back(pretrain_source_->source(f, arch, ""));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

CellResult read_cell_result(const fs::path& run_dir) {
  const fs::path file = run_dir / "results.json";
  const json::Value v = json::parse_file(file);
  CellResult r;
  try {
    r.metric = v.at("metric").as_string();
    r.best_step = int64_t(v.at("best_step").as_double());
    r.sample_only = v.at("sample_only").as_bool();
    const json::Value& test = v.at("test");
    // The scores come from the confusion counts, so that the table rounds once (results.json files written before
    // full precision kept 6 digits, and 0.64525 printed as 64.53 for 1175/1821 = 64.5249%).
    const auto& rows = test.at("confusion").items();
    eval::ConfusionMatrix confusion(int64_t(rows.size()));
    for (size_t gold = 0; gold < rows.size(); ++gold) {
      const auto& counts = rows[gold].items();
      if (counts.size() != rows.size()) throw std::invalid_argument("the confusion matrix is not square");
      for (size_t predicted = 0; predicted < counts.size(); ++predicted)
        for (int64_t n = counts[predicted].as_int64(); n > 0; --n) confusion.add(int64_t(gold), int64_t(predicted));
    }
    r.accuracy = confusion.accuracy();
    r.f1 = confusion.task_f1();
    r.examples = confusion.examples();
    if (r.examples != test.at("examples").as_int64())
      throw std::invalid_argument("the confusion matrix counts " + std::to_string(r.examples) + " examples, not " +
                                  test.at("examples").text());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
  r.wall_seconds = recorded_wall_seconds(run_dir);
  return r;
}

double recorded_wall_seconds(const fs::path& run_dir) {
  const fs::path file = run_dir / "reproduce.json";
  return fs::exists(file) ? json::parse_file(file).at("wall_seconds").as_double() : 0;
}

std::string table2_markdown(const GridReport& r) {
  const auto cols = columns(r.grid);
  const std::vector<int64_t> seeds = r.grid.cell_seeds();
  const int n_seeds = int(seeds.size());
  std::ostringstream md;
  md << "# Table 2, grid `" << r.grid.name << "`: convpt beside the paper\n\n"
     << "Each cell: **ours** (paper). Accuracy in %, F1 of the toxic class where noted; test split; the model selected on "
        "dev. The paper's models are 12+12-layer, d_model 768, pre-trained on C4 for 524k steps; see the grid's "
        "files for ours.";
  if (n_seeds > 1)
    md << " Ours is the mean ± standard deviation over " << n_seeds << " fine-tuning seeds (" << join_seeds(seeds)
       << ") of one pre-training per architecture (seed " << r.pretrain_grid.seed << "); [n/" << n_seeds
       << "]: only n of them finished so far.";
  if (r.pretrain_grid.name != r.grid.name)
    md << " The pre-trained rows start from grid `" << r.pretrain_grid.name
       << "`'s pre-trainings; only the fine-tuning differs from that grid's.";
  md << "\n\n";
  md << "| model |";
  bool any_sample = false;
  for (const auto& [dataset, metric] : cols) {
    bool sample = false;
    for (const auto& [name, result] : r.results) sample |= name.starts_with(dataset + "-") && result.sample_only;
    any_sample |= sample;
    md << " " << dataset_title(dataset) << (metric == "f1" ? " F1" : is_toxicity(dataset) ? " Acc" : "")
       << (sample ? " *" : "") << " |";
  }
  md << "\n|---|";
  for (size_t i = 0; i < cols.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& row : {std::string("scratch"), std::string("pretrained")}) {
    if (!contains(r.grid.rows, row)) continue;
    for (const auto& arch : r.grid.archs) {
      md << "| " << (row == "scratch" ? "no pre-training: " : "pre-trained: ") << arch_title(arch) << " |";
      for (const auto& [dataset, metric] : cols) {
        const auto scores = ours(r, arch, row, dataset, metric);
        md << " **" << fixed(mean_of(scores)) << (scores && scores->n > 1 ? " ± " + fixed(scores->sd) : "") << "**";
        if (scores && scores->n < n_seeds) md << " [" << scores->n << "/" << n_seeds << "]";
        md << " (" << fixed(paper(Cell{arch, row, dataset}, metric)) << ") |";
      }
      md << "\n";
    }
  }
  if (contains(r.grid.rows, "scratch") && contains(r.grid.rows, "pretrained")) {
    for (const auto& arch : r.grid.archs) {
      md << "| gain from pre-training: " << arch_title(arch) << " |";
      for (const auto& [dataset, metric] : cols) {
        auto gain = [&](auto score) -> std::optional<double> {
          const auto after = score(Cell{arch, "pretrained", dataset}), before = score(Cell{arch, "scratch", dataset});
          if (!after || !before) return std::nullopt;
          return *after - *before;
        };
        md << " **" << fixed(gain([&](const Cell& c) { return mean_of(ours(r, c.arch, c.row, c.dataset, metric)); }),
                              true)
           << "** ("
           << fixed(gain([&](const Cell& c) { return paper(c, metric); }), true) << ") |";
      }
      md << "\n";
    }
  }
  if (any_sample) md << "\n* the dataset here is only a sample, or its test labels are not the official ones "
        "(see ../shared/data/MANIFEST.md); numbers are not comparable to the paper's.\n";
  if (std::any_of(cols.begin(), cols.end(), [](const auto& col) { return col.second == "f1"; }))
    md << "\nF1: ours is the toxic class's (each cell's `f1_per_class` has both). The paper's F1 is above its "
          "accuracy (WikiToxic 95.45 vs 91.93), which one class's binary F1 can be only when that class is most of "
          "the test set (F1 <= 2p / (2p + error rate) for a class of share p: here p >= 0.85); in the original data "
          "that is the non-toxic class, so the paper's F1 is most likely the non-toxic class's.\n";

  // The findings, on each dataset's primary metric.
  auto ours_primary = [&](const std::string& arch, const std::string& row, const std::string& dataset) {
    return mean_of(ours(r, arch, row, dataset, primary_metric(dataset)));
  };
  // The paper's side of a finding counts the cells we measured, no others.
  auto paper_primary = [&](const std::string& arch, const std::string& row, const std::string& dataset) {
    return ours_primary(arch, row, dataset) ? paper(Cell{arch, row, dataset}, primary_metric(dataset))
                                            : std::nullopt;
  };
  auto gains = [](double pretrained, double scratch) { return pretrained > scratch; };
  auto competitive = [](double pretrained, double transformer) { return pretrained >= transformer - 1.0; };
  md << "\n## The paper's findings at this scale\n\n"
     << "Checked on each dataset's primary metric (F1 for the toxicity tasks, accuracy otherwise), over the cells "
        "measured so far.\n\n"
     << "1. Convolutions also gain from pre-training (pre-trained > from scratch): ours "
     << describe(count_finding(r, ours_primary, gains, Against::scratch)) << ". Paper, same datasets: "
     << describe(count_finding(r, paper_primary, gains, Against::scratch)) << ".\n";
  if (n_seeds > 1) md << "   " << beyond_spread(r) << "\n";
  md << "2. Pre-trained convolutions are within 1 point of the pre-trained Transformer, or better: ours "
     << describe(count_finding(r, ours_primary, competitive, Against::transformer)) << ". Paper, same datasets: "
     << describe(count_finding(r, paper_primary, competitive, Against::transformer)) << ".\n";

  md << "\n## Provenance\n\n- command: `" << r.command << "`\n- trained by convpt commit:";
  const char* separator = " ";
  for (const auto& [commit, runs] : r.runs_by_commit) {
    md << separator << "`" << commit << "` (" << runs << (runs == 1 ? " run)" : " runs)");
    separator = ", ";
  }
  if (r.runs_by_commit.empty()) md << " no run finished yet";
  md << "\n- table rendered by convpt commit: `" << r.commit << "`\n";
  if (n_seeds == 1 && seeds.front() == r.pretrain_grid.seed)
    md << "- seed: " << r.pretrain_grid.seed << " (every run; the data order and initialisation follow from it)\n";
  else
    md << "- seeds: pre-training " << r.pretrain_grid.seed << ", fine-tuning " << join_seeds(seeds)
       << " (the data order and initialisation follow from them)\n";
  double total = 0;
  for (const auto& [arch, seconds] : r.pretrain_seconds) total += seconds;
  for (const auto& [name, result] : r.results) total += result.wall_seconds;
  if (r.pretrain_grid.name != r.grid.name)
    md << "- pre-trainings: grid `" << r.pretrain_grid.name << "`'s (grid.pretrain_from), run once for both grids\n";
  md << "- wall time: " << duration(total) << " summed over the runs (pre-training:";
  for (const auto& [arch, seconds] : r.pretrain_seconds) md << " " << arch << " " << duration(seconds);
  md << "; fine-tuning and test: " << r.results.size() << " of " << r.cells.size() << " cells finished)\n";
  return md.str();
}

std::string table2_csv(const GridReport& r) {
  std::ostringstream csv;
  csv << "arch,row,dataset,seed,metric,ours,paper,examples,sample_only,best_step,wall_seconds\n";
  for (const Cell& cell : r.cells) {
    const auto it = r.results.find(cell.run_name());
    for (const auto& metric : is_toxicity(cell.dataset) ? std::vector<std::string>{"accuracy", "f1"}
                                                        : std::vector<std::string>{"accuracy"}) {
      const auto their = paper(cell, metric);
      csv << cell.arch << "," << cell.row << "," << cell.dataset << "," << cell.other_seed.value_or(r.grid.seed)
          << "," << metric << "," << (it != r.results.end() ? fixed(score_of(it->second, metric)) : "") << ","
          << (their ? fixed(their) : "") << ",";
      if (it != r.results.end())
        csv << it->second.examples << "," << (it->second.sample_only ? "true" : "false") << ","
            << it->second.best_step << "," << std::fixed << std::setprecision(1) << it->second.wall_seconds;
      else
        csv << ",,,";
      csv << "\n";
    }
  }
  return csv.str();
}

}  // namespace convpt::experiments
