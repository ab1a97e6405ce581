#include "training/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "core/files.h"
#include "core/json.h"
#include "core/log.h"
#include "training/checkpoint.h"
#include "training/precision.h"
#include "training/schedule.h"

namespace convpt::training {
namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void request_stop(int signal) { g_stop_signal = signal; }

// Installs the SIGINT/SIGTERM handlers for the lifetime of a run and restores the previous ones afterwards, unless
// the run fails: then the process is on its way to report the error and exit, and a stop request arriving meanwhile
// (`convpt launch` sends SIGTERM to every rank once one has died) must not kill it before the report is out.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    previous_int_ = std::signal(SIGINT, request_stop);
    previous_term_ = std::signal(SIGTERM, request_stop);
  }
  ~StopSignals() {
    if (std::uncaught_exceptions() > 0) return;
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

// Appends one JSON object per line to <run>/metrics.jsonl; values are numbers. Without a run directory (ranks
// other than 0), writes nothing. Training from `first_step` first drops the lines of later steps: a run killed
// after its last checkpoint logged steps that the resumed run logs again.
class MetricsLog {
 public:
  MetricsLog(const std::optional<RunDir>& run, int64_t first_step) {
    if (!run) return;
    const std::filesystem::path file = run->file("metrics.jsonl");
    keep_steps_up_to(file, first_step);
    out_.open(file, std::ios::app);
    if (!out_) throw_io_error("cannot append to", file);
  }
  void write(int64_t step, const Evaluation& values) {
    if (!out_.is_open()) return;
    out_ << "{\"step\": " << step;
    for (const auto& [key, value] : values) out_ << ", \"" << key << "\": " << std::setprecision(8) << value;
    out_ << "}\n";
    out_.flush();
  }

 private:
  static void keep_steps_up_to(const std::filesystem::path& file, int64_t last_step) {
    const std::optional<std::string> text = read_file(file);
    if (!text) return;  // a new run
    std::istringstream lines(*text);
    std::string kept;
    bool dropped = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      int64_t step = 0;
      try {
        step = json::parse(line).at("step").as_int64();
      } catch (const std::exception& e) {
        throw std::runtime_error(file.string() + ": not a metrics line (" + e.what() + "): " + line);
      }
      if (step > last_step) {
        dropped = true;
        continue;
      }
      kept += line + "\n";
    }
    if (dropped) write_file_atomically(file, kept);
  }

  std::ofstream out_;
};

double gradient_norm(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  return norms.empty() ? 0.0 : torch::stack(norms).norm().item<double>();
}

void scale_gradients(const std::vector<torch::Tensor>& parameters, double factor) {
  for (const auto& p : parameters)
    if (p.grad().defined()) p.grad().mul_(factor);
}

std::string what_of(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);  // its what() carries a C++ backtrace
  return c10_error ? c10_error->what_without_backtrace() : e.what();
}

std::string format_duration(double seconds) {
  char text[32];
  const long s = static_cast<long>(seconds);
  std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const config::TrainConfig& s, const NamedParameters& parameters) {
  if (s.optimizer == "adamw") return std::make_unique<AdamW>(parameters, AdamWOptions{.weight_decay = s.weight_decay});
  return std::make_unique<Adafactor>(parameters, AdafactorOptions{});
}

Trainer::Trainer(const config::Config& config, const std::optional<RunDir>& run, models::Seq2SeqModel model,
                 BatchSource& data, TrainerOptions options)
    : config_(config),
      run_(run),
      model_(std::move(model)),
      data_(data),
      options_(std::move(options)),
      parallel_(options_.parallel ? options_.parallel : std::make_shared<DataParallel>()) {
  NamedParameters parameters;
  for (const auto& item : model_->named_parameters()) parameters.emplace_back(item.key(), item.value());
  optimizer_ = make_optimizer(options_.settings, parameters);
  parallel_->broadcast(*model_);
  parallel_->reduce_gradients(model_->parameters());
}

StateDict Trainer::generator_states() const {
  StateDict states{{"cpu", at::detail::getDefaultCPUGenerator().get_state()}};
  const torch::Device device = model_->parameters().front().device();
  if (device.is_cuda()) states["cuda"] = at::globalContext().defaultGenerator(device).get_state();
  return states;
}

void Trainer::restore_generators(const StateDict& states, const std::filesystem::path& checkpoint) {
  const torch::Device device = model_->parameters().front().device();
  for (const auto& [name, state] : states) {
    at::Generator generator;  // a handle: setting its state sets the default generator's
    if (name == "cpu") generator = at::detail::getDefaultCPUGenerator();
    if (name == "cuda" && device.is_cuda()) generator = at::globalContext().defaultGenerator(device);
    if (generator.defined()) generator.set_state(state);
  }
  if (device.is_cuda() != bool(states.count("cuda")))
    log::warn("checkpoint ", checkpoint.string(), " was written by a run on ",
              device.is_cuda() ? "the CPU (or an older convpt)" : "a GPU",
              ": dropout now draws from another generator, so this run will not repeat an uninterrupted one exactly");
}

void Trainer::resume(const std::filesystem::path& checkpoint) {
  const CheckpointContents c = load_checkpoint(checkpoint);
  if (const std::string diff = model_differences(c.config.model, config_.model); !diff.empty())
    throw std::runtime_error("checkpoint " + checkpoint.string() + " is for another model:\n" + diff);
  check_same_tokenizer(c, checkpoint.string(), options_.tokenizer_fingerprint, "this run's data");
  load_named_state(*model_, c.model);
  optimizer_->load_state(c.optimizer);
  restore_generators(c.rng, checkpoint);
  data_.restore(c.data_state);
  step_ = c.step;
  best_ = c.best_evaluation;
  // best/ is written at every improving evaluation, the checkpoints only every checkpoint_every steps: after a
  // crash best/ can be newer than the checkpoint. Its score stands, so that a replay that evaluates otherwise (on a
  // GPU, or with another world size) cannot leave best/ holding other weights than the run reports.
  if (run_ && std::filesystem::exists(run_->file("best") / "latest")) {
    const CheckpointContents best = load_checkpoint(run_->file("best"));
    if (best.step > step_) {
      best_ = best.best_evaluation;
      log::info("best/ holds the evaluation at step ", best.step, ", after the checkpoint: it stands as the best");
    }
  }
  log::info("resumed from ", checkpoint.string(), " at step ", step_);
}

void Trainer::save() {
  if (run_) {
    CheckpointContents c;
    c.step = step_;
    c.data_state = data_.state();
    c.model = named_state(*model_);
    c.optimizer = optimizer_->state();
    c.rng = generator_states();
    c.config = config_;
    c.best_evaluation = best_;
    c.tokenizer_fingerprint = options_.tokenizer_fingerprint;
    const auto path = save_checkpoint(run_->file("checkpoints"), c, options_.settings.keep_checkpoints);
    log::debug("checkpoint ", path.string());
  }
  parallel_->barrier();  // the checkpoint is complete before any rank goes on (or exits)
}

std::string Trainer::last_checkpoint() const {
  if (!run_) return "rank 0's newest checkpoint";
  const auto latest = latest_checkpoint(run_->path());
  return latest ? latest->string() : "none yet, the run starts over";
}

TrainOutcome Trainer::run() {
  if (parallel_->world_size() == 1) return train();
  try {
    return train();
  } catch (const std::exception& e) {
    // A rank that died or hung makes the others' collectives fail within run.dist_timeout_s.
    throw std::runtime_error(parallel_->name() + ": training failed at step " + std::to_string(step_ + 1) + ": " +
                             what_of(e) + "\nthe data-parallel run is over; continue it with --resume (last checkpoint: " +
                             last_checkpoint() + ")");
  }
}

TrainOutcome Trainer::train() {
  const config::TrainConfig& s = options_.settings;
  const ScheduleOptions schedule{s.schedule, s.learning_rate, s.warmup_steps, s.steps};
  const torch::Device device = model_->parameters().front().device();
  const bool live_line = run_ && ::isatty(STDERR_FILENO);
  StopSignals signals;
  MetricsLog metrics(run_, step_);
  TrainOutcome outcome;
  outcome.best = best_;
  const auto started = std::chrono::steady_clock::now();
  const int64_t first_step = step_;
  int64_t tokens_since_log = 0;
  auto last_log = started;

  auto evaluate = [&] {
    if (!options_.evaluate) return;
    model_->eval();
    Evaluation result = options_.evaluate();
    model_->train();
    metrics.write(step_, result);
    std::string line;
    for (const auto& [key, value] : result) line += " " + key + "=" + std::to_string(value);
    log::info("step ", step_, " eval:", line);
    const auto score = result.find(options_.select_metric);
    if (options_.select_metric.empty() || score == result.end()) {
      best_ = result;  // nothing to select by: the latest evaluation stands for the run, and a resume restores it
      outcome.best = best_;
    } else if (!best_.count(score->first) || score->second > best_.at(score->first)) {
      best_ = result;
      best_["best_step"] = double(step_);
      outcome.best = best_;
      if (!run_) return;
      CheckpointContents best{step_, data_.state(), named_state(*model_), {}, generator_states(), config_, best_,
                              options_.tokenizer_fingerprint};
      save_checkpoint(run_->file("best"), best, 1);
    }
  };

  model_->train();
  while (step_ < s.steps) {
    const int64_t step = step_ + 1;
    const double lr = learning_rate_at(schedule, step);
    parallel_->start_step();
    optimizer_->zero_grad();
    // This rank's sums over target tokens (the loss is a mean over them), then the same over all ranks.
    double loss_sum = 0, cross_entropy_sum = 0, target_tokens = 0, tokens = 0;
    for (int64_t micro = 0; micro < s.grad_accumulation; ++micro) {
      const TensorBatch batch = data_.next();
      const models::LossOutput out = [&] {
        const Autocast autocast(s.precision, device);
        return model_->loss(batch.inputs, batch.targets, s.z_loss);
      }();
      if (micro == s.grad_accumulation - 1) parallel_->expect_backward(out.loss);  // gradients reduced during it
      (out.loss * double(out.target_tokens)).backward();
      loss_sum += out.loss.item<double>() * double(out.target_tokens);
      cross_entropy_sum += out.cross_entropy.item<double>() * double(out.target_tokens);
      target_tokens += double(out.target_tokens);
      tokens += double((batch.inputs != models::kPadId).sum().item<int64_t>() + out.target_tokens);  // real only
    }
    const std::vector<double> total =
        parallel_->sum({loss_sum, cross_entropy_sum, target_tokens, tokens, double(g_stop_signal != 0)});
    const double step_targets = std::max(total[2], 1.0);
    const double loss = total[0] / step_targets;
    if (!std::isfinite(loss)) {
      outcome.reason = StopReason::non_finite_loss;
      outcome.message = "loss is " + std::to_string(loss) + " at step " + std::to_string(step) +
                        "; stopped without saving, the last good checkpoint is kept (" + last_checkpoint() + ")";
      break;
    }
    // The ranks' gradients of summed token losses, averaged over ranks: now the gradient of the step's mean loss.
    scale_gradients(model_->parameters(), double(parallel_->world_size()) / step_targets);
    const double grad_norm = s.clip_grad_norm > 0
                                 ? torch::nn::utils::clip_grad_norm_(model_->parameters(), s.clip_grad_norm)
                                 : gradient_norm(model_->parameters());
    optimizer_->step(lr);
    step_ = step;
    tokens_since_log += int64_t(total[3]);

    if (step_ % s.log_every == 0 || step_ == s.steps) {
      const auto now = std::chrono::steady_clock::now();
      const double interval = std::chrono::duration<double>(now - last_log).count();
      const double elapsed = std::chrono::duration<double>(now - started).count();
      const double tokens_per_s = tokens_since_log / std::max(interval, 1e-9);
      const double eta = elapsed / double(step_ - first_step) * double(s.steps - step_);
      metrics.write(step_, {{"loss", loss}, {"cross_entropy", total[1] / step_targets}, {"lr", lr},
                            {"grad_norm", grad_norm}, {"tokens_per_s", tokens_per_s}});
      std::ostringstream line;
      line << "step " << step_ << "/" << s.steps << " loss " << std::fixed << std::setprecision(4) << loss << " lr "
           << std::scientific << std::setprecision(2) << lr << std::fixed << std::setprecision(0) << " tok/s "
           << tokens_per_s << " ETA " << format_duration(eta);
      if (live_line) {
        std::fprintf(stderr, "\r\033[K%s", line.str().c_str());
        std::fflush(stderr);
      } else {
        log::info(line.str());
      }
      tokens_since_log = 0;
      last_log = now;
    }
    if (step_ % s.eval_every == 0) evaluate();
    if (total[4] > 0) {  // a signal to any rank stops them all at this step
      save();
      outcome.reason = StopReason::interrupted;
      const char* signal = g_stop_signal == SIGINT    ? "SIGINT"
                           : g_stop_signal == SIGTERM ? "SIGTERM"
                                                      : "a signal to another rank";
      outcome.message = std::string("stopped by ") + signal + " at step " + std::to_string(step_) +
                        "; checkpoint saved, continue with --resume";
      break;
    }
    if (step_ % s.checkpoint_every == 0 || step_ == s.steps) save();
  }
  if (live_line) std::fprintf(stderr, "\n");
  // A run that ends between evaluations, or a resumed finished run whose checkpoint records none, is evaluated.
  if (outcome.reason == StopReason::finished && (step_ % s.eval_every != 0 || outcome.best.empty())) evaluate();
  outcome.step = step_;
  return outcome;
}

}  // namespace convpt::training
