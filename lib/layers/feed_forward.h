#pragma once
#include <torch/torch.h>

namespace convpt::layers {

// T5's feed-forward sub-layer: d -> d_ff -> ReLU -> dropout -> d, no biases.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t d_model, int64_t d_ff, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear wi{nullptr}, wo{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace convpt::layers
