// The seq2seq models: sizes from the paper, T5 details, masking, causality, incremental decoding, training signal.
#include "testing.h"  // first: see there
#include "layers/conv_block.h"
#include "models/model_info.h"
#include "models/seq2seq.h"

using namespace convpt;
using models::Seq2SeqModel;

namespace {
const std::vector<std::string> kArchitectures = {"transformer", "lightconv", "dynamicconv", "dilatedconv"};

// A small model in double precision, so different code paths can be compared tightly.
config::ModelConfig tiny_config(const std::string& arch) {
  config::ModelConfig c;
  c.arch = arch;
  c.vocab_size = 50;
  c.d_model = 16;
  c.d_ff = 32;
  c.num_heads = 2;
  c.d_kv = 8;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.dropout = 0.0;
  c.max_positions = 64;
  c.conv_heads = 4;
  c.kernel_sizes = {3};
  if (arch == "dilatedconv") c.kernel_sizes = {3, 4}, c.dilations = {1, 2};
  return c;
}

Seq2SeqModel tiny_model(const std::string& arch, uint64_t seed = 0) {
  torch::manual_seed(seed);
  Seq2SeqModel model(tiny_config(arch));
  model->to(torch::kDouble);
  model->eval();
  return model;
}

torch::Tensor random_ids(std::vector<int64_t> shape, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(2, 50, shape, torch::kLong);  // no pad (0) or EOS (1)
}

void check_close(const torch::Tensor& a, const torch::Tensor& b, double tolerance = 1e-10) {
  REQUIRE(a.sizes() == b.sizes());
  const double difference = (a - b).abs().max().item<double>();
  INFO("max |a - b| = " << difference);
  CHECK(difference <= tolerance);
}
}  // namespace

TEST_CASE("base-size parameter counts match the paper", "[model][slow]") {
  // ../shared/paper.md: T5-base rules give 222,903,552; the conv models at k = 7 with H = d_model.
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"transformer", 222'903'552}, {"lightconv", 223'517'184}, {"dynamicconv", 322'607'616}};
  for (const auto& [arch, count] : expected) {
    config::ModelConfig c;  // the defaults are the paper's base size
    c.arch = arch;
    torch::NoGradGuard no_grad;
    Seq2SeqModel model(c);
    INFO(arch);
    CHECK(models::parameter_count(*model) == count);
    int64_t sum = 0;
    for (const auto& row : models::parameters_by_module(*model)) sum += row.count;
    CHECK(sum == count);
  }
}

TEST_CASE("conv taps start at the released code's scale, not at a uniform filter", "[model]") {
  // Mesh TF's VarianceScalingInitializer(scale 1/k), fan-in: lightweight tap logits sqrt(1/k), tap predictor
  // sqrt(1/(k d)); dense layers 1/sqrt(d). (Zero taps barely move under Adafactor's parameter-scaled steps.)
  torch::manual_seed(0);
  const int64_t d = 256, k = 7;
  const auto std_of = [](const torch::Tensor& t) { return t.detach().std().item<double>(); };
  layers::ConvBlock light(layers::ConvBlockOptions{.d_model = d, .heads = d, .kernel_size = k});
  CHECK(std_of(light->taps) == Approx(std::sqrt(1.0 / k)).epsilon(0.1));
  CHECK(std_of(light->glu_value->weight) == Approx(std::sqrt(1.0 / d)).epsilon(0.1));
  layers::ConvBlock dynamic(
      layers::ConvBlockOptions{.d_model = d, .heads = d, .kernel_size = k, .kind = layers::ConvKind::dynamic});
  CHECK(std_of(dynamic->tap_predictor->weight) == Approx(std::sqrt(1.0 / (k * d))).epsilon(0.1));
  CHECK(std_of(dynamic->pointwise->weight) == Approx(std::sqrt(1.0 / d)).epsilon(0.1));
}

TEST_CASE("dynamic taps on the CPU are the softmax over each head's k predicted logits, with its gradients",
          "[model]") {
  // taps_for's CPU path predicts the logits tap-major; the definition (the path on other devices) head-major.
  const int64_t d = 12;
  for (const auto& [h, k] : std::vector<std::pair<int64_t, int64_t>>{{12, 7}, {4, 5}, {1, 3}, {6, 1}}) {
    CAPTURE(h, k);
    torch::manual_seed(h * 10 + k);
    layers::ConvBlock block(
        layers::ConvBlockOptions{.d_model = d, .heads = h, .kernel_size = k, .kind = layers::ConvKind::dynamic});
    block->to(torch::kDouble);
    const torch::Tensor gated = torch::randn({3, 5, d}, torch::kDouble).requires_grad_();
    const torch::Tensor upstream = torch::randn({3, 5, h, k}, torch::kDouble);
    const auto taps_and_grads = [&](const torch::Tensor& taps) {
      const auto grads = torch::autograd::grad({taps}, {gated, block->tap_predictor->weight, block->tap_predictor->bias},
                                               {upstream});
      return std::vector<torch::Tensor>{taps.detach(), grads[0], grads[1], grads[2]};
    };
    const auto fast = taps_and_grads(block->taps_for(gated));
    const auto definition =
        taps_and_grads(torch::softmax(block->tap_predictor->forward(gated).view({3, 5, h, k}), -1));
    for (size_t i = 0; i < fast.size(); ++i) {
      CAPTURE(i);
      REQUIRE(fast[i].sizes() == definition[i].sizes());
      CHECK(torch::allclose(fast[i], definition[i], 1e-12, 1e-12));
    }
  }
}

TEST_CASE("relative position buckets equal T5's _relative_position_bucket", "[model]") {
  // Values printed by the Hugging Face T5 implementation of the bucket function (32 buckets, max distance 128).
  const torch::Tensor relative = torch::tensor({-300, -128, -127, -100, -64, -20, -16, -9, -8, -7, -1, 0, 1, 2,
                                                7, 8, 9, 15, 16, 31, 32, 63, 64, 100, 127, 128, 129, 500});
  const torch::Tensor bidirectional = torch::tensor({15, 15, 15, 15, 14, 10, 10, 8, 8, 7, 1, 0, 17, 18,
                                                     23, 24, 24, 25, 26, 27, 28, 29, 30, 31, 31, 31, 31, 31});
  const torch::Tensor causal = torch::tensor({31, 31, 31, 30, 26, 17, 16, 9, 8, 7, 1, 0, 0, 0,
                                              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(torch::equal(layers::relative_position_bucket(relative, true, 32, 128), bidirectional));
  CHECK(torch::equal(layers::relative_position_bucket(relative, false, 32, 128), causal));
}

TEST_CASE("incremental decoding equals full-sequence decoding, step by step and in chunks", "[model]") {
  for (const auto& arch : kArchitectures) {
    Seq2SeqModel model = tiny_model(arch);
    torch::Tensor inputs = random_ids({2, 9}, 1);
    inputs.index_put_({1, torch::indexing::Slice(6)}, models::kPadId);  // a padded row
    const torch::Tensor decoder_inputs = models::shift_right(random_ids({2, 11}, 2));
    torch::NoGradGuard no_grad;
    const models::EncoderOutput encoded = model->encode(inputs);
    const torch::Tensor full = model->decode(decoder_inputs, encoded);
    for (int64_t chunk : {1, 2, 3, 11}) {
      INFO(arch << ", chunks of " << chunk);
      models::DecoderState state = model->start_decoding(encoded);
      std::vector<torch::Tensor> pieces;
      for (int64_t start = 0; start < decoder_inputs.size(1); start += chunk) {
        const int64_t n = std::min(chunk, decoder_inputs.size(1) - start);
        pieces.push_back(model->decode(decoder_inputs.narrow(1, start, n), encoded, &state));
      }
      check_close(torch::cat(pieces, 1), full);
      CHECK(state.length == decoder_inputs.size(1));
    }
  }
}

TEST_CASE("padding does not leak into real positions, in the encoder or through cross-attention", "[model]") {
  for (const auto& arch : kArchitectures) {
    INFO(arch);
    Seq2SeqModel model = tiny_model(arch);
    const torch::Tensor ids = random_ids({1, 5}, 3);
    const torch::Tensor decoder_inputs = models::shift_right(random_ids({1, 4}, 13));
    torch::NoGradGuard no_grad;
    const models::EncoderOutput reference = model->encode(ids);
    const torch::Tensor reference_logits = model->decode(decoder_inputs, reference);
    for (int64_t pads : {1, 4}) {
      INFO(pads << " padding positions");
      const torch::Tensor padded = torch::cat({ids, torch::zeros({1, pads}, torch::kLong)}, 1);
      const models::EncoderOutput encoded = model->encode(padded);
      check_close(encoded.hidden.narrow(1, 0, 5), reference.hidden);
      check_close(model->decode(decoder_inputs, encoded), reference_logits);
    }
  }
}

TEST_CASE("the decoder is causal", "[model]") {
  for (const auto& arch : kArchitectures) {
    INFO(arch);
    Seq2SeqModel model = tiny_model(arch);
    torch::NoGradGuard no_grad;
    const models::EncoderOutput encoded = model->encode(random_ids({2, 7}, 4));
    torch::Tensor decoder_inputs = random_ids({2, 8}, 5);
    const torch::Tensor before = model->decode(decoder_inputs, encoded);
    decoder_inputs.index_put_({torch::indexing::Slice(), torch::indexing::Slice(5)}, 7);
    const torch::Tensor after = model->decode(decoder_inputs, encoded);
    check_close(after.narrow(1, 0, 5), before.narrow(1, 0, 5));
    CHECK((after.narrow(1, 5, 3) - before.narrow(1, 5, 3)).abs().max().item<double>() > 1e-6);
  }
}

TEST_CASE("every parameter receives a gradient and a tiny model overfits a few sequences", "[model]") {
  for (const auto& arch : kArchitectures) {
    INFO(arch);
    torch::manual_seed(6);
    Seq2SeqModel model(tiny_config(arch));
    model->train();
    const torch::Tensor inputs = random_ids({4, 10}, 7), targets = random_ids({4, 4}, 8);
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
    double first = 0, last = 0;
    for (int step = 0; step < 60; ++step) {
      optimizer.zero_grad();
      const torch::Tensor loss = model->loss(inputs, targets).loss;
      loss.backward();
      if (step == 0) {
        for (const auto& p : model->named_parameters()) {
          INFO(p.key());
          REQUIRE(p.value().grad().defined());
          CHECK(p.value().grad().abs().sum().item<double>() > 0);
        }
        first = loss.item<double>();
      }
      last = loss.item<double>();
      optimizer.step();
    }
    CHECK(std::isfinite(first));
    CHECK(last < 0.1 * first);  // overfits a handful of sequences: the loss falls by 90% or more
  }
}

TEST_CASE("loss, z-loss and candidate scores agree with each other", "[model]") {
  for (const auto& arch : kArchitectures) {
    INFO(arch);
    Seq2SeqModel model = tiny_model(arch);
    torch::NoGradGuard no_grad;
    const torch::Tensor inputs = random_ids({3, 6}, 9);
    const std::vector<std::vector<int64_t>> candidates = {{5}, {7, 8}, {9, 10, 11}};
    const torch::Tensor scores = model->score_candidates(inputs, candidates);
    REQUIRE(scores.sizes() == torch::IntArrayRef({3, 3}));
    for (size_t c = 0; c < candidates.size(); ++c) {
      std::vector<int64_t> ids = candidates[c];
      ids.push_back(models::kEosId);
      const torch::Tensor targets = torch::tensor(ids).unsqueeze(0).expand({3, int64_t(ids.size())});
      const auto plain = model->loss(inputs, targets);
      // Mean cross-entropy over 3 rows x |ids| tokens equals minus the mean candidate log-likelihood per token.
      CHECK(plain.cross_entropy.item<double>() ==
            Approx(-scores.select(1, c).sum().item<double>() / (3.0 * ids.size())).epsilon(1e-9));
      const torch::Tensor logits = model->forward(inputs, models::shift_right(targets));
      const double mean_log_z_squared = torch::logsumexp(logits, -1).pow(2).mean().item<double>();
      CHECK(model->loss(inputs, targets, 1e-4).loss.item<double>() ==
            Approx(plain.loss.item<double>() + 1e-4 * mean_log_z_squared).epsilon(1e-9));
    }
  }
}

TEST_CASE("padded target positions are ignored by the loss", "[model]") {
  Seq2SeqModel model = tiny_model("lightconv");
  torch::NoGradGuard no_grad;
  const torch::Tensor inputs = random_ids({1, 6}, 10);
  const torch::Tensor targets = torch::tensor({{5, 6, 1}});
  const torch::Tensor padded = torch::tensor({{5, 6, 1, 0, 0}});
  CHECK(model->loss(inputs, padded).cross_entropy.item<double>() ==
        Approx(model->loss(inputs, targets).cross_entropy.item<double>()).epsilon(1e-12));
  CHECK(model->loss(inputs, padded).target_tokens == 3);
}

TEST_CASE("greedy decoding follows the model's own argmax", "[model]") {
  for (const auto& arch : kArchitectures) {
    INFO(arch);
    Seq2SeqModel model = tiny_model(arch);
    torch::NoGradGuard no_grad;
    const torch::Tensor inputs = random_ids({2, 6}, 11);
    const torch::Tensor decoded = model->greedy_decode(inputs, 6);
    REQUIRE(decoded.size(0) == 2);
    REQUIRE(decoded.size(1) <= 6);
    const torch::Tensor argmax = model->forward(inputs, models::shift_right(decoded)).argmax(-1);
    const torch::Tensor live = decoded != models::kPadId;
    CHECK(torch::equal(argmax.masked_select(live), decoded.masked_select(live)));
  }
}

TEST_CASE("per-layer kernel sizes and dilations reach the layers", "[model]") {
  Seq2SeqModel model = tiny_model("dilatedconv");
  for (models::Stack stack : {model->encoder, model->decoder}) {
    torch::nn::ModuleList layers = stack->layers;
    CHECK(layers[0]->as<models::Seq2SeqLayer>()->conv->options().kernel_size == 3);
    CHECK(layers[1]->as<models::Seq2SeqLayer>()->conv->options().kernel_size == 4);
    CHECK(layers[1]->as<models::Seq2SeqLayer>()->conv->options().dilation == 2);
    CHECK(layers[1]->as<models::Seq2SeqLayer>()->conv->taps.sizes() == torch::IntArrayRef({4, 4}));
  }
  CHECK(model->encoder->layers[0]->as<models::Seq2SeqLayer>()->conv->options().window == ops::ConvWindow::centred);
  CHECK(model->decoder->layers[0]->as<models::Seq2SeqLayer>()->conv->options().window == ops::ConvWindow::causal);
}

TEST_CASE("configurations that cannot run are errors", "[model]") {
  CHECK_THROWS_WITH(layers::ConvBlock(layers::ConvBlockOptions{.d_model = 16, .heads = 4, .kernel_size = 0}),
                    Catch::Contains("kernel_size >= 1"));
  CHECK_THROWS_WITH(layers::ConvBlock(layers::ConvBlockOptions{.d_model = 16, .heads = 5, .kernel_size = 3}),
                    Catch::Contains("d_model % heads"));
  Seq2SeqModel model = tiny_model("lightconv");
  torch::NoGradGuard no_grad;
  CHECK_THROWS_WITH(model->encode(random_ids({1, 65}, 12)), Catch::Contains("max_positions"));
  CHECK_THROWS_AS(models::parse_architecture("lstm"), std::invalid_argument);
}

TEST_CASE("analytic FLOPs follow the architecture", "[model]") {
  SECTION("conv encoders cost 2 FLOPs per weight-matrix entry plus the taps, at any length") {
    for (const std::string arch : {"lightconv", "dynamicconv"}) {
      INFO(arch);
      const config::ModelConfig c = tiny_config(arch);
      Seq2SeqModel model(c);
      int64_t matrix_entries = 0;
      for (const auto& p : model->named_parameters())
        if (p.key().rfind("encoder.", 0) == 0 && p.value().dim() == 2 && p.key().find(".taps") == std::string::npos)
          matrix_entries += p.value().numel();
      const double taps = 2.0 * c.encoder_layers * c.kernel_sizes[0] * c.d_model;
      CHECK(models::forward_flops_per_token(c, 16, 4).encoder == Approx(2.0 * matrix_entries + taps));
      CHECK(models::forward_flops_per_token(c, 512, 4).encoder == models::forward_flops_per_token(c, 16, 4).encoder);
    }
  }
  SECTION("attention grows linearly with length") {
    const config::ModelConfig c = tiny_config("transformer");
    const double slope = (models::forward_flops_per_token(c, 300, 8).encoder -
                          models::forward_flops_per_token(c, 100, 8).encoder) / 200.0;
    CHECK(slope == Approx(4.0 * c.num_heads * c.d_kv * c.encoder_layers));
  }
}
