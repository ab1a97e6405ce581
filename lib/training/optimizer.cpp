#include "training/optimizer.h"

#include <algorithm>
#include <cmath>

namespace convpt::training {

void Optimizer::zero_grad() {
  for (auto& [name, p] : parameters_)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

torch::Tensor& Optimizer::slot(size_t index, const std::string& name, torch::IntArrayRef shape) {
  torch::Tensor& tensor = slots_[parameters_[index].first + "/" + name];
  if (!tensor.defined()) tensor = torch::zeros(shape, parameters_[index].second.options().dtype(torch::kFloat32));
  return tensor;
}

StateDict Optimizer::state() const {
  StateDict state = slots_;
  state["step"] = torch::tensor(step_, torch::kLong);
  return state;
}

void Optimizer::load_state(const StateDict& state) {
  const auto step = state.find("step");
  if (step == state.end()) throw std::runtime_error("optimizer state has no 'step'");
  std::map<std::string, torch::Tensor> restored;
  for (const auto& [key, value] : state) {
    if (key == "step") continue;
    const std::string parameter = key.substr(0, key.rfind('/'));
    const bool known = std::any_of(parameters_.begin(), parameters_.end(),
                                   [&](const auto& p) { return p.first == parameter; });
    if (!known) throw std::runtime_error("optimizer state for unknown parameter '" + parameter + "'");
    restored[key] = value.to(parameters_.front().second.device());
  }
  slots_ = std::move(restored);
  step_ = step->second.item<int64_t>();
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double correction1 = 1 - std::pow(options_.beta1, double(step_));
  const double correction2 = 1 - std::pow(options_.beta2, double(step_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    torch::Tensor& p = parameters_[i].second;
    if (!p.grad().defined()) continue;
    const torch::Tensor g = p.grad().to(torch::kFloat32);
    torch::Tensor& m = slot(i, "m", p.sizes());
    torch::Tensor& v = slot(i, "v", p.sizes());
    m.mul_(options_.beta1).add_(g, 1 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(g, g, 1 - options_.beta2);
    const torch::Tensor update = (m / correction1) / ((v / correction2).sqrt() + options_.epsilon);
    torch::Tensor p32 = p.to(torch::kFloat32);
    p32.mul_(1 - lr * options_.weight_decay).sub_(update, lr);
    p.copy_(p32);
  }
}

void Adafactor::step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double decay = 1 - std::pow(double(step_), -options_.decay_exponent);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    torch::Tensor& p = parameters_[i].second;
    if (!p.grad().defined()) continue;
    const torch::Tensor g = p.grad().to(torch::kFloat32);
    const torch::Tensor g2 = g.square() + options_.epsilon1;
    torch::Tensor update;
    if (p.dim() >= 2 && std::min(p.size(-1), p.size(-2)) >= options_.min_dim_size_to_factor) {
      // Factored: running means of g^2 over rows and columns; their outer product (normalised) estimates g^2.
      std::vector<int64_t> row_shape(p.sizes().begin(), p.sizes().end() - 1);
      std::vector<int64_t> column_shape(p.sizes().begin(), p.sizes().end());
      column_shape.erase(column_shape.end() - 2);
      torch::Tensor& rows = slot(i, "v_row", row_shape);
      torch::Tensor& columns = slot(i, "v_col", column_shape);
      rows.mul_(decay).add_(g2.mean(-1), 1 - decay);
      columns.mul_(decay).add_(g2.mean(-2), 1 - decay);
      const torch::Tensor row_factor = (rows / rows.mean(-1, true)).rsqrt().unsqueeze(-1);
      const torch::Tensor column_factor = columns.rsqrt().unsqueeze(-2);
      update = g * row_factor * column_factor;
    } else {
      torch::Tensor& v = slot(i, "v", p.sizes());
      v.mul_(decay).add_(g2, 1 - decay);
      update = g * v.rsqrt();
    }
    // Clip the update to RMS <= threshold, then scale the step by the parameter's own RMS; in tensors on the
    // parameter's device, so a step on a GPU needs no host round trip per parameter.
    update.div_(torch::clamp_min(update.square().mean().sqrt() / options_.clipping_threshold, 1.0));
    torch::Tensor p32 = p.to(torch::kFloat32);
    if (options_.multiply_by_parameter_scale)
      p32.sub_(update.mul_(torch::clamp_min(p32.square().mean().sqrt(), options_.epsilon2) * lr));
    else
      p32.sub_(update, lr);
    p.copy_(p32);
  }
}

}  // namespace convpt::training
