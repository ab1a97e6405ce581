#pragma once
// Optimisers with their state as plain named tensors, so checkpoints hold them in a format any tool can read and a
// resumed run continues bit-identically.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace convpt::training {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;
using StateDict = std::map<std::string, torch::Tensor>;

class Optimizer {
 public:
  explicit Optimizer(NamedParameters parameters) : parameters_(std::move(parameters)) {}
  virtual ~Optimizer() = default;

  // One update with learning rate `lr` from the gradients now in the parameters. Parameters without a gradient
  // are left alone.
  virtual void step(double lr) = 0;
  void zero_grad();

  // Every state tensor under "<parameter name>/<slot>", plus "step".
  StateDict state() const;
  // Restores state(); throws std::runtime_error naming the first missing or mis-shaped entry.
  void load_state(const StateDict& state);
  int64_t steps_taken() const { return step_; }

 protected:
  // The state tensor `slot` of parameter `index`, created as zeros of `shape` on first use.
  torch::Tensor& slot(size_t index, const std::string& slot, torch::IntArrayRef shape);

  NamedParameters parameters_;
  std::map<std::string, torch::Tensor> slots_;
  int64_t step_ = 0;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weight_decay = 0.0;
};

// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay.
class AdamW : public Optimizer {
 public:
  AdamW(NamedParameters parameters, AdamWOptions options) : Optimizer(std::move(parameters)), options_(options) {}
  void step(double lr) override;

 private:
  AdamWOptions options_;
};

struct AdafactorOptions {
  double decay_exponent = 0.8;      // second-moment decay 1 - t^-0.8
  double clipping_threshold = 1.0;  // update clipping by RMS
  double epsilon1 = 1e-30;          // added to squared gradients
  double epsilon2 = 1e-3;           // lower bound of the parameter scale
  bool multiply_by_parameter_scale = true;
  int64_t min_dim_size_to_factor = 128;  // smaller matrices (conv taps, relative-position biases) keep full statistics
};

// Adafactor as T5 trains with it (Shazeer & Stern 2018; Mesh TensorFlow's AdafactorOptimizer defaults): factored
// second moments for matrices whose last two dimensions are both at least min_dim_size_to_factor (row and column
// averages over those two; Mesh TF picks the two largest dimensions, the same for the model's 2-D weights), full
// ones otherwise, no momentum, update clipping, and step sizes relative to the parameter's RMS.
class Adafactor : public Optimizer {
 public:
  Adafactor(NamedParameters parameters, AdafactorOptions options)
      : Optimizer(std::move(parameters)), options_(options) {}
  void step(double lr) override;

 private:
  AdafactorOptions options_;
};

}  // namespace convpt::training
