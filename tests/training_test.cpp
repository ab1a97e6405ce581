// Training machinery: schedules, optimisers, checkpoints (atomic, refusals), exact resume, NaN guard.
#include "testing.h"  // first: see there

#include <fstream>

#include "core/run_dir.h"
#include "temp_dir.h"
#include "training/checkpoint.h"
#include "training/safetensors.h"
#include "training/schedule.h"
#include "training/distributed.h"
#include "training/precision.h"
#include "training/trainer.h"
#include "training_testing.h"

using namespace convpt;
using namespace convpt::training;
using test::CopySource;
using test::losses;
using test::tiny_run;
using test::train;


TEST_CASE("safetensors round-trips every dtype and rejects damaged files", "[training]") {
  test::TempDir dir;
  const StateDict original = {{"a.weight", torch::randn({3, 4})},
                              {"b", torch::randn({2}, torch::kFloat64)},
                              {"c", torch::randn({5}).to(torch::kBFloat16)},
                              {"step", torch::tensor(7, torch::kLong)},
                              {"rng", torch::randint(0, 255, {16}, torch::kUInt8)}};
  const auto path = dir.path() / "t.safetensors";
  save_safetensors(path, original, {{"format", "pt"}});
  const StateDict loaded = load_safetensors(path);
  REQUIRE(loaded.size() == original.size());
  for (const auto& [name, tensor] : original) {
    INFO(name);
    CHECK(loaded.at(name).scalar_type() == tensor.scalar_type());
    CHECK(torch::equal(loaded.at(name), tensor));
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir.path() / "short.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() - 4);
  CHECK_THROWS_WITH(load_safetensors(dir.path() / "short.safetensors"), Catch::Contains("short.safetensors"));
  std::ofstream(dir.path() / "bad.safetensors", std::ios::binary) << std::string(8, '\xff') << "{";
  CHECK_THROWS_WITH(load_safetensors(dir.path() / "bad.safetensors"), Catch::Contains("beyond the end"));
}

TEST_CASE("learning-rate schedules", "[training]") {
  const ScheduleOptions rsqrt{"rsqrt", 1.0, 10000, 100000};
  CHECK(learning_rate_at(rsqrt, 1) == Approx(0.01));      // 1/sqrt(10k) through the warm-up
  CHECK(learning_rate_at(rsqrt, 10000) == Approx(0.01));
  CHECK(learning_rate_at(rsqrt, 40000) == Approx(0.005));
  const ScheduleOptions linear{"linear", 2.0, 10, 110};
  CHECK(learning_rate_at(linear, 5) == Approx(1.0));
  CHECK(learning_rate_at(linear, 10) == Approx(2.0));
  CHECK(learning_rate_at(linear, 60) == Approx(1.0));
  CHECK(learning_rate_at(linear, 110) == Approx(0.0));
  const ScheduleOptions cosine{"cosine", 1.0, 0, 100};
  CHECK(learning_rate_at(cosine, 50) == Approx(0.5));
  CHECK(learning_rate_at(cosine, 100) == Approx(0.0).margin(1e-12));
  CHECK(learning_rate_at({"constant", 0.001, 0, 10}, 7) == Approx(0.001));
}

TEST_CASE("bf16 autocast holds inside its scope only; unknown precisions are refused", "[training]") {
  const torch::Tensor a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    const Autocast autocast("bf16", torch::kCPU);
    CHECK(torch::mm(a, b).scalar_type() == torch::kBFloat16);
  }
  CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
  {
    const Autocast autocast("fp32", torch::kCPU);
    CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
  }
  CHECK_THROWS_WITH(Autocast("fp16", torch::kCPU), Catch::Contains("unknown precision 'fp16'"));
  CHECK_THROWS_WITH(Autocast("auto", torch::kCPU), Catch::Contains("settles auto first"));
}

TEST_CASE("precision auto is bf16 only where bf16 matmuls are native; bf16 elsewhere is refused", "[training]") {
  CHECK(resolve_precision("fp32", true) == "fp32");
  CHECK(resolve_precision("fp32", false) == "fp32");
  CHECK(resolve_precision("auto", true) == "bf16");
  CHECK(resolve_precision("auto", false) == "fp32");
  CHECK(resolve_precision("bf16", true) == "bf16");
  CHECK_THROWS_WITH(resolve_precision("bf16", false), Catch::Contains("50x slower than fp32"));
  CHECK_THROWS_WITH(resolve_precision("fp16", true), Catch::Contains("unknown precision 'fp16'"));
  CHECK(native_bf16_matmul(c10::DeviceType::CUDA));

  // On this machine's CPU, whichever it has: each section is settled alone, and a refusal names source and key.
  const bool native = native_bf16_matmul(c10::DeviceType::CPU);
  config::Config config;
  config.pretrain.precision = "auto";
  config.finetune.precision = "auto";
  settle_precision(config, "pretrain", "run.yaml");
  CHECK(config.pretrain.precision == (native ? "bf16" : "fp32"));
  CHECK(config.finetune.precision == "auto");
  config.finetune.precision = "bf16";
  if (native) {
    settle_precision(config, "finetune", "run.yaml");
    CHECK(config.finetune.precision == "bf16");
  } else {
    CHECK_THROWS_WITH(settle_precision(config, "finetune", "run.yaml"),
                      Catch::Contains("run.yaml: key 'finetune.precision': bf16 on this CPU"));
  }
  config.run.device = "cuda";  // settling reads the config's device, not this machine's
  settle_precision(config, "finetune", "run.yaml");
  CHECK(config.finetune.precision == "bf16");
}

TEST_CASE("Adafactor factors large matrices only, clips updates and minimises", "[training]") {
  torch::manual_seed(0);
  torch::Tensor matrix = torch::randn({129, 128}).requires_grad_();
  torch::Tensor narrow = torch::randn({300, 7}).requires_grad_();  // like conv taps: one dimension under 128
  torch::Tensor vector = torch::randn({5}).requires_grad_();
  Adafactor optimizer({{"matrix", matrix}, {"narrow", narrow}, {"vector", vector}}, {});
  const auto loss = [&] { return matrix.square().mean() + narrow.square().mean() + vector.square().mean(); };
  const double start = loss().item<double>();
  for (int i = 0; i < 200; ++i) {
    optimizer.zero_grad();
    loss().backward();
    const torch::Tensor before = matrix.detach().clone();
    optimizer.step(0.1);
    // Clipped update (RMS <= 1) times lr times max(1e-3, RMS(parameter)).
    const double step_rms = (matrix.detach() - before).square().mean().sqrt().item<double>();
    CHECK(step_rms <= 0.1 * std::max(1e-3, before.square().mean().sqrt().item<double>()) * (1 + 1e-6));
  }
  const auto state = optimizer.state();
  CHECK(state.at("matrix/v_row").sizes() == torch::IntArrayRef({129}));
  CHECK(state.at("matrix/v_col").sizes() == torch::IntArrayRef({128}));
  CHECK(state.at("narrow/v").sizes() == torch::IntArrayRef({300, 7}));
  CHECK(!state.count("narrow/v_row"));
  CHECK(state.at("vector/v").sizes() == torch::IntArrayRef({5}));
  CHECK(loss().item<double>() < 0.01 * start);
}

TEST_CASE("N steps straight equal N/2 + resume + N/2, bit for bit", "[training]") {
  test::TempDir dir;
  train(tiny_run(dir.path(), "straight", 8), 1);
  train(tiny_run(dir.path(), "split", 4), 1);
  // As if the first half had been killed after logging two steps past its last checkpoint: the resumed run logs
  // them again, and metrics.jsonl must hold each step once.
  std::ofstream(dir.path() / "split" / "metrics.jsonl", std::ios::app)
      << "{\"step\": 5, \"loss\": 9.5}\n{\"step\": 6, \"loss\": 9.25}\n";
  // The resumed run starts from another initialisation: everything must come from the checkpoint.
  const auto outcome = train(tiny_run(dir.path(), "split", 8), 99,
                             [&](Trainer& t) { t.resume(dir.path() / "split"); });
  CHECK(outcome.step == 8);
  const auto straight = losses(dir.path() / "straight" / "metrics.jsonl");
  const auto split = losses(dir.path() / "split" / "metrics.jsonl");
  REQUIRE(straight.size() == 8);
  CHECK(split == straight);
  const auto a = load_checkpoint(dir.path() / "straight"), b = load_checkpoint(dir.path() / "split");
  CHECK(a.step == 8);
  for (const auto& [name, tensor] : a.model) {
    INFO(name);
    CHECK(torch::equal(tensor, b.model.at(name)));
  }
}

TEST_CASE("checkpoints keep the last N and survive an interrupted write", "[training]") {
  test::TempDir dir;
  train(tiny_run(dir.path(), "run", 8), 1);
  const auto checkpoints = dir.path() / "run" / "checkpoints";
  CHECK_FALSE(std::filesystem::exists(checkpoints / "step-00000002"));  // keep_checkpoints = 3
  CHECK(std::filesystem::exists(checkpoints / "step-00000004"));
  CHECK(std::filesystem::exists(checkpoints / "step-00000008"));
  // A crash mid-write leaves a .partial directory with half a file: the newest complete checkpoint still loads.
  std::filesystem::create_directories(checkpoints / "step-00000010.partial");
  std::ofstream(checkpoints / "step-00000010.partial" / "model.safetensors") << "PK\x03\x04 trunc";
  CHECK(load_checkpoint(dir.path() / "run").step == 8);
  // A corrupt file is refused with its name.
  std::ofstream(checkpoints / "step-00000008" / "model.safetensors", std::ios::trunc) << "garbage";
  CHECK_THROWS_WITH(load_checkpoint(checkpoints / "step-00000008"), Catch::Contains("model.safetensors"));
}

TEST_CASE("a checkpoint of another model is refused with what differs", "[training]") {
  test::TempDir dir;
  train(tiny_run(dir.path(), "small", 2), 1);
  config::Config other = tiny_run(dir.path(), "wide", 4);
  other.model.d_model = 32;
  other.model.vocab_size = 48;
  torch::manual_seed(1);
  models::Seq2SeqModel model(other.model);
  CopySource data(7, torch::kCPU);
  Trainer trainer(other, RunDir::create(other, "pretrain"), model, data, {other.pretrain, {}, ""});
  try {
    trainer.resume(dir.path() / "small");
    FAIL("resume should have been refused");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("model.d_model: checkpoint 16, config 32"));
    CHECK_THAT(e.what(), Catch::Contains("model.vocab_size: checkpoint 40, config 48"));
  }
  config::ModelConfig other_dropout = tiny_run(dir.path(), "x", 1).model;
  other_dropout.dropout = 0.3;
  CHECK(model_differences(tiny_run(dir.path(), "x", 1).model, other_dropout).empty());
}

TEST_CASE("checkpoints record the tokenizer of their ids, and another tokenizer is refused", "[training]") {
  test::TempDir dir;
  CheckpointContents c;
  c.step = 3;
  c.model = {{"w", torch::ones({2})}};
  c.rng["cpu"] = at::detail::getDefaultCPUGenerator().get_state();
  c.config = tiny_run(dir.path(), "run", 3);
  c.tokenizer_fingerprint = "fnv1a64:0123456789abcdef+100";
  save_checkpoint(dir.path() / "checkpoints", c, 1);
  const CheckpointContents loaded = load_checkpoint(dir.path() / "checkpoints");
  CHECK(loaded.tokenizer_fingerprint == c.tokenizer_fingerprint);
  CHECK_NOTHROW(check_same_tokenizer(loaded, "ck", c.tokenizer_fingerprint, "tok.model"));
  CHECK_THROWS_WITH(check_same_tokenizer(loaded, "ck", "fnv1a64:0123456789abcdef+99", "tok.model"),
                    Catch::Contains("checkpoint ck was trained on the ids of tokenizer fnv1a64:0123456789abcdef+100, "
                                    "but tok.model is fnv1a64:0123456789abcdef+99"));
  CheckpointContents unrecorded = loaded;  // written before convpt recorded the tokenizer: passes, with a warning
  unrecorded.tokenizer_fingerprint.clear();
  CHECK_NOTHROW(check_same_tokenizer(unrecorded, "ck", "fnv1a64:fedcba9876543210+100", "tok.model"));
}

TEST_CASE("a non-finite loss stops the run and keeps the last good checkpoint", "[training]") {
  test::TempDir dir;
  config::Config c = tiny_run(dir.path(), "nan", 8);
  c.pretrain.eval_every = 5;
  torch::manual_seed(1);
  models::Seq2SeqModel model(c.model);
  CopySource data(7, torch::kCPU);
  // The evaluation hook after step 5 poisons the weights, as a diverging run would; checkpoints are every 2 steps.
  TrainerOptions options{c.pretrain, [&] {
                           torch::NoGradGuard no_grad;
                           model->shared->weight.fill_(std::numeric_limits<float>::quiet_NaN());
                           return Evaluation{};
                         },
                         ""};
  Trainer trainer(c, RunDir::create(c, "pretrain"), model, data, options);
  const TrainOutcome outcome = trainer.run();
  CHECK(outcome.reason == StopReason::non_finite_loss);
  CHECK_THAT(outcome.message, Catch::Contains("at step 6"));
  const auto kept = load_checkpoint(dir.path() / "nan");
  CHECK(kept.step == 4);
  CHECK(torch::isfinite(kept.model.at("shared.weight")).all().item<bool>());
}

// A fine-tune of tiny_run's model in <dir>/finetune whose dev score at each evaluation is scripted by step.
TrainOutcome scripted_finetune(const std::filesystem::path& dir, const std::map<int64_t, double>& dev_score,
                               int64_t steps, int64_t eval_every, bool resume) {
  config::Config c = tiny_run(dir, "finetune", steps);
  c.pretrain.eval_every = eval_every;
  torch::manual_seed(1);
  models::Seq2SeqModel model(c.model);
  CopySource data(7, torch::kCPU);
  Trainer* trainer_ptr = nullptr;
  TrainerOptions options{c.pretrain, [&] { return Evaluation{{"dev_accuracy", dev_score.at(trainer_ptr->step())}}; },
                         "dev_accuracy"};
  Trainer trainer(c, RunDir::create(c, "finetune", /*allow_existing=*/true), model, data, options);
  trainer_ptr = &trainer;
  if (resume) trainer.resume(dir / "finetune");
  return trainer.run();
}

TEST_CASE("a resumed fine-tune keeps the best evaluation from before the interruption", "[training]") {
  test::TempDir dir;
  // Scripted dev scores by step: the best comes early, before the split at step 4.
  const std::map<int64_t, double> dev_score = {{2, 0.9}, {4, 0.5}, {6, 0.6}, {8, 0.7}};
  auto run = [&](int64_t steps, bool resume) { return scripted_finetune(dir.path(), dev_score, steps, 2, resume); };
  run(4, false);
  const TrainOutcome outcome = run(8, true);
  REQUIRE(outcome.best.count("dev_accuracy"));
  CHECK(outcome.best.at("dev_accuracy") == 0.9);
  CHECK(outcome.best.at("best_step") == 2);
  const CheckpointContents best = load_checkpoint(dir.path() / "finetune" / "best");
  CHECK(best.step == 2);
  CHECK(best.best_evaluation.at("dev_accuracy") == 0.9);
}

TEST_CASE("a resume from a checkpoint older than best/ keeps best/'s evaluation", "[training]") {
  // A crash after an improving evaluation (step 3, written to best/) and before the next checkpoint (step 4): the
  // run resumes from step 2, and its replay of step 3 scores lower (as on a GPU). best/ still holds step 3's
  // weights, so the run must report step 3's score, not step 2's.
  test::TempDir dir;
  std::map<int64_t, double> dev_score = {{1, 0.5}, {2, 0.6}, {3, 0.9}, {4, 0.4}};
  auto run = [&](int64_t steps, bool resume) { return scripted_finetune(dir.path(), dev_score, steps, 1, resume); };
  run(4, false);
  const std::filesystem::path checkpoints = dir.path() / "finetune" / "checkpoints";
  std::filesystem::remove_all(checkpoints / "step-00000004");  // the crash: step 4's checkpoint never written
  std::ofstream(checkpoints / "latest") << "step-00000002";
  dev_score = {{3, 0.55}, {4, 0.4}, {5, 0.5}, {6, 0.5}};
  const TrainOutcome outcome = run(6, true);
  const CheckpointContents best = load_checkpoint(dir.path() / "finetune" / "best");
  CHECK(best.step == 3);
  CHECK(outcome.best.at("best_step") == 3);
  CHECK(outcome.best.at("dev_accuracy") == 0.9);
}

TEST_CASE("the data-parallel environment: torchrun's variables, errors naming them", "[training]") {
  for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
    ::unsetenv(name);
  CHECK(distributed_env().world_size == 1);  // none set: a single process
  ::setenv("RANK", "1", 1);
  CHECK_THROWS_WITH(distributed_env(), Catch::Contains("WORLD_SIZE is not set"));
  ::setenv("WORLD_SIZE", "2", 1);
  CHECK_THROWS_WITH(distributed_env(), Catch::Contains("MASTER_ADDR is not set"));
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", "http", 1);
  CHECK_THROWS_WITH(distributed_env(), Catch::Contains("MASTER_PORT=http is not an integer in [1, 65535]"));
  ::setenv("MASTER_PORT", "29500", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  const DistributedEnv env = distributed_env();
  CHECK(env.rank == 1);
  CHECK(env.world_size == 2);
  CHECK(env.local_rank == 1);
  CHECK(env.master_addr == "127.0.0.1");
  CHECK(env.master_port == 29500);

  DataParallel single;  // every operation is local
  CHECK(single.share(8, "pretrain.batch_size") == 8);
  CHECK(single.sum({1.5, 2}) == std::vector<double>{1.5, 2});
  CHECK(single.broadcast(std::string("x")) == "x");
}
