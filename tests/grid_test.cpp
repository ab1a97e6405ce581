// The Table 2 grid: cell selection, grid-file errors, and the table beside the paper with the findings check.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "experiments/grid.h"
#include "experiments/paper_table2.h"
#include "temp_dir.h"

using namespace convpt;
using Catch::Matchers::Contains;

namespace {

config::GridSpec two_by_two() {
  config::GridSpec g;
  g.name = "t";
  g.archs = {"transformer", "lightconv"};
  g.datasets = {"sst2", "wiki_toxic"};
  return g;
}

experiments::CellResult result(double accuracy, double f1 = 0, bool sample = false) {
  experiments::CellResult r;
  r.metric = "accuracy";
  r.accuracy = accuracy;
  r.f1 = f1;
  r.examples = 100;
  r.sample_only = sample;
  r.wall_seconds = 60;
  return r;
}

}  // namespace

TEST_CASE("grid cells come in the paper's order and filters select rows and datasets", "[grid]") {
  const config::GridSpec g = two_by_two();
  const auto all = experiments::grid_cells(g);
  REQUIRE(all.size() == 8);
  CHECK(all.front().run_name() == "sst2-transformer-scratch");
  CHECK(all.back().run_name() == "wiki_toxic-lightconv-pretrained");
  CHECK(experiments::grid_cells(g, {"pretrained"}).size() == 4);
  CHECK(experiments::grid_cells(g, {"lightconv"}).size() == 4);
  CHECK(experiments::grid_cells(g, {"lightconv-scratch"}, {"sst2"}).size() == 1);
  CHECK_THROWS_WITH(experiments::grid_cells(g, {"dynamicconv"}), Contains("'dynamicconv' matches no row"));
  CHECK_THROWS_WITH(experiments::grid_cells(g, {}, {"imdb"}), Contains("'imdb' is not in grid t"));
}

TEST_CASE("grid files: unknown keys, missing files and missing fields name file and line", "[grid]") {
  test::TempDir dir;
  dir.write("ft.yaml", "finetune: {steps: 5}\n");
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("a.yaml", "grid:\n  name: a\n  datasets: [trec]\n"
                                                                 "  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: [ft.yaml]\n"
                                                                 "  finetune_steps: 3\n")),
                    Contains("a.yaml:7") && Contains("grid.finetune_steps") && Contains("unknown key"));
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("b.yaml", "grid:\n  name: b\n  datasets: [trec]\n"
                                                                 "  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: ['{dataset}.yaml']\n"
                                                                 "  rows: [scratch]\n")),
                    Contains("b.yaml:6") && Contains("trec.yaml"));
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("c.yaml", "grid:\n  name: c\n  tokenizer: ft.yaml\n"
                                                                 "  finetune: [ft.yaml]\n")),
                    Contains("grid.datasets") && Contains("required"));
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("d.yaml", "grid:\n  name: d\n  datasets: [trec]\n"
                                                                 "  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: [ft.yaml]\n"
                                                                 "  rows: [scratch, pretrained]\n")),
                    Contains("grid.pretrain") && Contains("needs pre-training files"));
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("e.yaml", "grid:\n  name: e\n  datasets: [trec]\n"
                                                                 "  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: [ft.yaml]\n"
                                                                 "  rows: [scratch]\n  finetune_seeds: [1, 2, 1]\n")),
                    Contains("e.yaml:8") && Contains("grid.finetune_seeds") && Contains("lists seed 1 twice"));
  // A dataset or architecture listed twice would count its cells twice in every mean and spread.
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("f.yaml", "grid:\n  name: f\n  datasets: [trec, sst2, trec]\n"
                                                                 "  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: [ft.yaml]\n"
                                                                 "  rows: [scratch]\n")),
                    Contains("f.yaml:3") && Contains("grid.datasets") && Contains("lists trec twice"));
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("g.yaml", "grid:\n  name: g\n  datasets: [trec]\n"
                                                                 "  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: [ft.yaml]\n"
                                                                 "  rows: [scratch]\n  archs: [lightconv, lightconv]\n")),
                    Contains("g.yaml:8") && Contains("grid.archs") && Contains("lists lightconv twice"));
  // The name is a directory under runs/ and results/, not a path out of them.
  for (const std::string name : {"''", "../escape", "a/b", "'..'"})
    CHECK_THROWS_WITH(config::load_grid_config(dir.write("h.yaml", "grid:\n  name: " + name + "\n  datasets: [trec]\n"
                                                                   "  tokenizer: ft.yaml\n  model: ft.yaml\n"
                                                                   "  finetune: [ft.yaml]\n  rows: [scratch]\n")),
                      Contains("h.yaml:2") && Contains("grid.name") && Contains("plain directory name"));
}

TEST_CASE("a grid refuses settings of the keys it sets for every run, from --set or its files", "[grid]") {
  test::TempDir dir;
  dir.write("model.yaml", "model: {arch: lightconv, d_model: 32, num_heads: 2}\n");
  dir.write("ft.yaml", "finetune: {steps: 5}\n");
  dir.write("init.yaml", "finetune:\n  steps: 5\n  init: runs/somewhere/pretrain-lightconv\n");
  const std::string grid = "grid:\n  name: t\n  archs: [lightconv]\n  rows: [scratch]\n  datasets: [trec]\n"
                           "  tokenizer: ft.yaml\n  model: model.yaml\n";
  const auto layout_of = [&](const std::string& name, const std::string& finetune) {
    const auto file = dir.write(name, grid + "  finetune: [" + finetune + "]\n");
    return experiments::GridLayout(file, config::load_grid_config(file).grid);
  };
  const experiments::GridLayout plain = layout_of("plain.yaml", "ft.yaml");
  const experiments::Cell scratch{"lightconv", "scratch", "trec"};
  CHECK(plain.finetune_config(scratch).finetune.init.empty());
  // A scratch row started from pre-trained weights would be reported as "no pre-training".
  for (const std::string key : {"finetune.init", "finetune.task", "run.seed", "run.name", "run.output_dir", "model.arch"})
    CHECK_THROWS_WITH(plain.refuse_grid_settings({"finetune.steps=3", key + "=x"}),
                      Contains("--set " + key + "=x") && Contains("reproduce sets it for every run"));
  CHECK_NOTHROW(plain.refuse_grid_settings({"finetune.steps=3"}));
  CHECK_THROWS_WITH(layout_of("init_grid.yaml", "ft.yaml, init.yaml").finetune_config(scratch),
                    Contains("init.yaml:3") && Contains("finetune.init") && Contains("remove it from this file"));
}

TEST_CASE("table 2: ours beside the paper, gains, findings, sample marks", "[grid]") {
  experiments::GridReport report{
      two_by_two(), two_by_two(), experiments::grid_cells(two_by_two()), {}, {}, {}, "convpt reproduce t", "abc"};
  // Lightweight gains from pre-training on both datasets and is within a point of the pre-trained Transformer on
  // SST-2 (90.5 vs 91.0) but not on WikiToxic F1 (80 vs 85).
  report.results["sst2-transformer-scratch"] = result(0.70);
  report.results["sst2-transformer-pretrained"] = result(0.91);
  report.results["sst2-lightconv-scratch"] = result(0.72);
  report.results["sst2-lightconv-pretrained"] = result(0.905);
  report.results["wiki_toxic-transformer-pretrained"] = result(0.90, 0.85, true);
  report.results["wiki_toxic-lightconv-scratch"] = result(0.85, 0.70, true);
  report.results["wiki_toxic-lightconv-pretrained"] = result(0.88, 0.80, true);
  report.pretrain_seconds = {{"transformer", 600}, {"lightconv", 540}};
  report.runs_by_commit = {{"0123", 8}, {"4567-dirty", 1}};
  const std::string md = experiments::table2_markdown(report);
  INFO(md);
  CHECK_THAT(md, Contains("| model | SST-2 | WikiToxic Acc * | WikiToxic F1 * |"));
  CHECK_THAT(md, Contains("| no pre-training: Transformer | **70.00** (78.44) | **—** (91.93) | **—** (95.45) |"));
  CHECK_THAT(md, Contains("| gain from pre-training: Lightweight | **+18.50** (+10.55) | **+3.00** (+2.56) | **+10.00** (+1.83) |"));
  CHECK_THAT(md, Contains("from scratch): ours holds for 2 of 2"));
  CHECK_THAT(md, Contains("or better: ours holds for 1 of 2 (architecture, dataset) pairs; not for Lightweight on "
                          "WikiToxic (vs Transformer: 80.00 vs 85.00)"));
  CHECK_THAT(md, Contains("Paper, same datasets: holds for 2 of 2"));
  CHECK_THAT(md, Contains("7 of 8 cells finished"));
  CHECK_THAT(md, Contains("26m00s summed over the runs (pre-training: lightconv 9m00s transformer 10m00s"));
  CHECK_THAT(md, Contains("trained by convpt commit: `0123` (8 runs), `4567-dirty` (1 run)\n"));
  CHECK_THAT(md, Contains("table rendered by convpt commit: `abc`"));
  CHECK_THAT(md, Contains("* the dataset here is only a sample"));
  CHECK_THAT(md, Contains("F1: ours is the toxic class's"));
  const std::string csv = experiments::table2_csv(report);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 4 * 1 + 4 * 2);  // header, SST-2 rows, WikiToxic Acc+F1
  CHECK_THAT(csv, Contains("lightconv,pretrained,wiki_toxic,1,f1,80.00,96.48,100,true,0,60.0"));
  CHECK_THAT(csv, Contains("transformer,scratch,wiki_toxic,1,accuracy,,91.93,,,,"));
  report.results.erase("wiki_toxic-transformer-pretrained");
  report.results.erase("wiki_toxic-lightconv-scratch");
  report.results.erase("wiki_toxic-lightconv-pretrained");
  const std::string sst2_only = experiments::table2_markdown(report);
  CHECK_THAT(sst2_only, !Contains("only a sample"));  // no sampled dataset measured
  CHECK_THAT(sst2_only, Contains("F1: ours is the toxic class's"));  // the column is there, empty
  // The paper's side of the findings counts the same (architecture, dataset) pairs as ours: SST-2 alone now.
  CHECK_THAT(sst2_only, Contains("Paper, same datasets: holds for 1 of 1"));
}

TEST_CASE("fine-tuning seeds: a cell per seed over one pre-training, and the table's mean and spread", "[grid]") {
  config::GridSpec g = two_by_two();
  g.datasets = {"sst2"};
  g.finetune_seeds = {1, 2, 3};
  const auto all = experiments::grid_cells(g);
  REQUIRE(all.size() == 12);  // seed by seed: 4 cells each
  CHECK(all[0].run_name() == "sst2-transformer-scratch");  // grid.seed's runs keep the one-seed grid's names
  CHECK(all[4].run_name() == "sst2-transformer-scratch-seed2");
  CHECK(all[11].run_name() == "sst2-lightconv-pretrained-seed3");
  const auto third = experiments::grid_cells(g, {"lightconv"}, {}, {3});
  REQUIRE(third.size() == 2);
  CHECK(third[0].run_name() == "sst2-lightconv-scratch-seed3");
  CHECK_THROWS_WITH(experiments::grid_cells(g, {}, {}, {4}), Contains("--seeds: 4 is not a fine-tuning seed of grid t"));
  g.seed = 7;  // seeds not naming grid.seed are all named by their seed
  CHECK(experiments::grid_cells(g)[0].run_name() == "sst2-transformer-scratch-seed1");
  g.seed = 1;

  // Transformer: 3 seeds; lightweight: all 3 from scratch, 2 of 3 pre-trained.
  experiments::GridReport report{g, g, all, {}, {}, {}, "convpt reproduce t", "abc"};
  report.results["sst2-transformer-scratch"] = result(0.70);
  report.results["sst2-transformer-scratch-seed2"] = result(0.72);
  report.results["sst2-transformer-scratch-seed3"] = result(0.74);
  report.results["sst2-lightconv-scratch"] = result(0.70);
  report.results["sst2-lightconv-scratch-seed2"] = result(0.71);
  report.results["sst2-lightconv-scratch-seed3"] = result(0.72);
  report.results["sst2-lightconv-pretrained"] = result(0.80);
  report.results["sst2-lightconv-pretrained-seed3"] = result(0.82);
  const std::string md = experiments::table2_markdown(report);
  INFO(md);
  CHECK_THAT(md, Contains("mean ± standard deviation over 3 fine-tuning seeds (1, 2, 3) of one pre-training per "
                          "architecture (seed 1)"));
  CHECK_THAT(md, Contains("| no pre-training: Transformer | **72.00 ± 2.00** (78.44) |"));
  CHECK_THAT(md, Contains("| pre-trained: Lightweight | **81.00 ± 1.41** [2/3] (92.20) |"));
  CHECK_THAT(md, Contains("| pre-trained: Transformer | **—** (92.09) |"));
  CHECK_THAT(md, Contains("| gain from pre-training: Lightweight | **+10.00** (+10.55) |"));  // of the means
  // 10 points against a standard error of sqrt(2/2 + 1/3) = 1.15: clear.
  CHECK_THAT(md, Contains("Beyond the seeds' spread (mean gain more than 2 standard errors from 0), of 1 pairs with "
                          "2 or more seeds in both rows: gains in 1: Lightweight on SST-2 (+10.00, 2 SE 2.31); "
                          "losses in 0."));
  // Finding 1 needs no pre-trained Transformer; finding 2 does.
  CHECK_THAT(md, Contains("from scratch): ours holds for 1 of 1"));
  CHECK_THAT(md, Contains("or better: ours not measured yet"));
  CHECK_THAT(md, Contains("- seeds: pre-training 1, fine-tuning 1, 2, 3"));
  CHECK_THAT(md, Contains("8 of 12 cells finished"));
  // A gain inside the spread: pre-trained 72.5 +- 1.41 against 71 +- 1 from scratch, +1.5 against 2 SE of 2.31.
  report.results["sst2-lightconv-pretrained"] = result(0.715);
  report.results["sst2-lightconv-pretrained-seed3"] = result(0.735);
  CHECK_THAT(experiments::table2_markdown(report), Contains("2 or more seeds in both rows: gains in 0; losses in 0.") &&
                                                       Contains("from scratch): ours holds for 1 of 1"));
  // A loss beyond the spread is named as one: 66 +- 1.41 against 71 +- 1, -5 against 2 SE of 2.31.
  report.results["sst2-lightconv-pretrained"] = result(0.65);
  report.results["sst2-lightconv-pretrained-seed3"] = result(0.67);
  CHECK_THAT(experiments::table2_markdown(report),
             Contains("both rows: gains in 0; losses in 1: Lightweight on SST-2 (-5.00, 2 SE 2.31).") &&
                 Contains("from scratch): ours holds for 0 of 1"));
  report.results["sst2-lightconv-pretrained"] = result(0.715);
  report.results["sst2-lightconv-pretrained-seed3"] = result(0.735);
  const std::string csv = experiments::table2_csv(report);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 12);
  CHECK_THAT(csv, Contains("\nlightconv,scratch,sst2,2,accuracy,71.00,"));
  CHECK_THAT(csv, Contains("\nlightconv,pretrained,sst2,2,accuracy,,92.20,,,,"));

  // Each seed's run gets its seed; the pre-training keeps grid.seed's.
  const std::filesystem::path cpu = std::filesystem::path(CONVPT_SOURCE_DIR) / "experiments/cpu";
  config::GridSpec spec = config::load_grid_config(cpu / "table2.yaml").grid;
  spec.finetune_seeds = {1, 2};
  const experiments::GridLayout layout(cpu / "table2.yaml", spec);
  const config::Config second = layout.finetune_config({"lightconv", "pretrained", "trec", 2});
  CHECK(second.run.seed == 2);
  CHECK(second.run.name == "trec-lightconv-pretrained-seed2");
  CHECK(second.finetune.init == "runs/cpu/pretrain-lightconv");
  CHECK(layout.finetune_config({"lightconv", "pretrained", "trec"}).run.seed == 1);
  CHECK(layout.pretrain_config("lightconv").run.seed == 1);
}

TEST_CASE("a cell's scores come from its confusion counts and are rounded once", "[grid]") {
  // SST-2 test, 1175 of 1821 right: 64.5249%. A results.json from before full precision holds 0.64525, which would
  // print as 64.53.
  test::TempDir dir;
  const auto cell = [&](const std::string& name, const std::string& accuracy, const std::string& confusion) {
    dir.write(name + "/results.json", "{\"metric\": \"accuracy\", \"best_step\": 100, \"sample_only\": false, "
                                      "\"test\": {\"examples\": 1821, \"accuracy\": " + accuracy +
                                      ", \"f1\": 0.5, \"confusion\": " + confusion + "}}");
    return experiments::read_cell_result(dir.path() / name);
  };
  const auto scratch = cell("scratch", "0.64525", "[[600, 312], [334, 575]]");
  CHECK(scratch.accuracy == 1175.0 / 1821.0);
  CHECK(scratch.f1 == Approx(2.0 * 575 / (2 * 575 + 312 + 334)));
  CHECK(scratch.examples == 1821);
  // Pre-trained: 1 more right, a gain of 0.0549 points; and one with a lower score, a loss that rounds to zero.
  config::GridSpec g = two_by_two();
  g.archs = {"lightconv"}, g.datasets = {"sst2"};
  experiments::GridReport report{g, g, experiments::grid_cells(g), {}, {}, {}, "convpt reproduce t", "abc"};
  report.results["sst2-lightconv-scratch"] = scratch;
  report.results["sst2-lightconv-pretrained"] = cell("pretrained", "0.645799", "[[601, 311], [334, 575]]");
  std::string md = experiments::table2_markdown(report);
  CHECK_THAT(md, Contains("| no pre-training: Lightweight | **64.52** (81.65) |"));
  CHECK_THAT(md, Contains("| gain from pre-training: Lightweight | **+0.05** (+10.55) |"));
  report.results["sst2-lightconv-pretrained"].accuracy = scratch.accuracy - 0.000004;  // a gain of -0.0004 points
  md = experiments::table2_markdown(report);
  CHECK_THAT(md, Contains("| gain from pre-training: Lightweight | **+0.00** (+10.55) |"));
  CHECK_THROWS_WITH(cell("bad", "0.6", "[[600, 312], [334]]"), Contains("bad/results.json") && Contains("square"));
  CHECK_THROWS_WITH(cell("short", "0.6", "[[600, 312], [334, 574]]"), Contains("1820 examples, not 1821"));
}

TEST_CASE("the paper's Table 2 is transcribed for every row and dataset", "[grid]") {
  CHECK(experiments::paper_score("dynamicconv", "scratch", "sst2")->accuracy == 82.80);
  CHECK(*experiments::paper_score("lightconv", "pretrained", "civil_comments")->f1 == 87.58);
  CHECK_FALSE(experiments::paper_score("transformer", "scratch", "trec")->f1);
  CHECK_FALSE(experiments::paper_score("transformer", "scratch", "trec_fine"));
}

TEST_CASE("a grid cell keeps the settings files' training sections and the model file's model", "[grid]") {
  // The settings files inherit presets that describe a model (and the model files inherit presets with paper-scale
  // pre-training): neither may leak into the other's section.
  const std::filesystem::path cpu = std::filesystem::path(CONVPT_SOURCE_DIR) / "experiments/cpu";
  const experiments::GridLayout layout(cpu / "table2.yaml", config::load_grid_config(cpu / "table2.yaml").grid);
  const config::Config pretrain = layout.pretrain_config("dilatedconv");
  const config::Config pretrain_settings = config::load_config(cpu / "pretrain.yaml");
  CHECK(pretrain.pretrain == pretrain_settings.pretrain);
  CHECK(pretrain.pretrain.batch_size == 32);  // not the base preset's paper-scale 128 x 512
  CHECK(pretrain.pretrain.input_length == 128);
  const config::Config dilated_model_file = config::load_config(cpu / "../models/dilatedconv-cpu.yaml");
  CHECK(pretrain.model == dilated_model_file.model);
  const config::Config cell = layout.finetune_config({"dilatedconv", "pretrained", "sst2"});
  CHECK(cell.model == dilated_model_file.model);
  const config::Config sst2_settings = config::load_config({cpu / "finetune.yaml", cpu / "finetune/sst2.yaml"}, {});
  CHECK(cell.finetune.steps == sst2_settings.finetune.steps);
  CHECK(cell.finetune.steps != config::load_config(cpu / "finetune.yaml").finetune.steps);  // the dataset file counts
  CHECK(cell.finetune.optimizer == sst2_settings.finetune.optimizer);
  CHECK(cell.finetune.learning_rate == sst2_settings.finetune.learning_rate);
  CHECK(cell.finetune.learning_rate != config::Config{}.finetune.learning_rate);  // not the defaults
  CHECK(cell.finetune.init == "runs/cpu/pretrain-dilatedconv");
}

TEST_CASE("a grid can fine-tune from another grid's pre-trainings (grid.pretrain_from)", "[grid]") {
  test::TempDir dir;
  dir.write("ft.yaml", "finetune: {steps: 5}\n");
  dir.write("other_tokenizer.yaml", "data: {vocab_pieces: 300}\n");
  const std::string common = "  datasets: [trec]\n  tokenizer: ft.yaml\n  model: ft.yaml\n  finetune: [ft.yaml]\n";
  dir.write("base.yaml", "grid:\n  name: base\n  archs: [lightconv]\n" + common + "  pretrain: [ft.yaml]\n  seed: 4\n");
  const auto grid = [&](const std::string& name, const std::string& body) {
    return config::load_grid_config(dir.write(name + ".yaml", "grid:\n  name: " + name + "\n" + body));
  };
  CHECK(grid("ok", "  archs: [lightconv]\n" + common + "  pretrain_from: base.yaml\n").grid.pretrain_from ==
        "base.yaml");
  CHECK_THROWS_WITH(grid("both", common + "  archs: [lightconv]\n  pretrain: [ft.yaml]\n  pretrain_from: base.yaml\n"),
                    Contains("both.yaml:8") && Contains("grid.pretrain") && Contains("must be empty"));
  CHECK_THROWS_WITH(grid("gone", common + "  pretrain_from: nowhere.yaml\n"),
                    Contains("gone.yaml:7") && Contains("grid.pretrain_from") && Contains("nowhere.yaml"));
  CHECK_THROWS_WITH(config::load_grid_config(dir.write("same.yaml", "grid:\n  name: base\n  archs: [lightconv]\n" +
                                                                        common + "  pretrain_from: base.yaml\n")),
                    Contains("same.yaml:2") && Contains("grid.name") && Contains("must differ"));
  CHECK_THROWS_WITH(grid("arch", "  archs: [lightconv, dilatedconv]\n" + common + "  pretrain_from: base.yaml\n"),
                    Contains("grid.archs") && Contains("dilatedconv is not pre-trained by"));
  CHECK_THROWS_WITH(grid("tok", "  archs: [lightconv]\n  datasets: [trec]\n  tokenizer: other_tokenizer.yaml\n"
                                "  model: ft.yaml\n  finetune: [ft.yaml]\n  pretrain_from: base.yaml\n"),
                    Contains("tok.yaml:5") && Contains("grid.tokenizer") && Contains("must be the tokenizer config"));
  // A chain (or a cycle, here a grid naming itself) is refused, not followed.
  CHECK_THROWS_WITH(grid("chain", "  archs: [lightconv]\n" + common + "  pretrain_from: ok.yaml\n"),
                    Contains("ok.yaml takes its pre-trainings from another grid in turn"));
  CHECK_THROWS_WITH(grid("self", "  archs: [lightconv]\n" + common + "  pretrain_from: self.yaml\n"),
                    Contains("self.yaml takes its pre-trainings from another grid in turn"));

  // The repository's ablation: its cells are its own, their pre-trained weights and seed the CPU grid's.
  const std::filesystem::path experiments = std::filesystem::path(CONVPT_SOURCE_DIR) / "experiments";
  const auto file = experiments / "cpu-t5-lr/table2.yaml";
  const experiments::GridLayout layout(file, config::load_grid_config(file).grid);
  const experiments::GridLayout cpu(experiments / "cpu/table2.yaml",
                                    config::load_grid_config(experiments / "cpu/table2.yaml").grid);
  CHECK(layout.pretrain_grid().name == "cpu");
  CHECK(layout.pretrain_run("lightconv") == cpu.pretrain_run("lightconv"));
  CHECK(layout.pretrain_config("lightconv") == cpu.pretrain_config("lightconv"));
  const experiments::Cell cell{"lightconv", "pretrained", "ag_news"};
  const config::Config ablated = layout.finetune_config(cell), base = cpu.finetune_config(cell);
  CHECK(ablated.run.output_dir == "runs/cpu-t5-lr");
  CHECK(ablated.finetune.init == "runs/cpu/pretrain-lightconv");
  CHECK(ablated.finetune.learning_rate == 0.001);
  CHECK(ablated.finetune.schedule == "constant");
  CHECK(base.finetune.learning_rate == 0.003);
  CHECK(ablated.model == base.model);
  CHECK(ablated.finetune.steps == base.finetune.steps);

  experiments::GridReport report{
      layout.grid(), layout.pretrain_grid(), experiments::grid_cells(layout.grid()), {}, {}, {}, "t", "abc"};
  const std::string md = experiments::table2_markdown(report);
  CHECK_THAT(md, Contains("The pre-trained rows start from grid `cpu`'s pre-trainings"));
  CHECK_THAT(md, Contains("- pre-trainings: grid `cpu`'s (grid.pretrain_from)"));
}
