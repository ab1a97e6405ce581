#include "layers/feed_forward.h"

#include "layers/init.h"

namespace convpt::layers {

FeedForwardImpl::FeedForwardImpl(int64_t d_model, int64_t d_ff, double dropout_rate) {
  wi = register_module("wi", torch::nn::Linear(torch::nn::LinearOptions(d_model, d_ff).bias(false)));
  wo = register_module("wo", torch::nn::Linear(torch::nn::LinearOptions(d_ff, d_model).bias(false)));
  dropout = register_module("dropout", torch::nn::Dropout(dropout_rate));
  init_normal(wi->weight, std::pow(d_model, -0.5));
  init_normal(wo->weight, std::pow(d_ff, -0.5));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) { return wo(dropout(torch::relu(wi(x)))); }

}  // namespace convpt::layers
