#include "training/distributed.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <thread>

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
// The wheel ships no Gloo headers; ProcessGroupGloo.hpp compiles against Debian's libgloo-dev. Only declarations
// are used: the backend's members hold Gloo's types behind pointers, and its code is the one inside LibTorch.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef CONVPT_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/log.h"

namespace convpt::training {
namespace {

// Environment variable `name` as an integer in [low, high]; `fallback` when unset, an error when there is none.
int integer_variable(const char* name, std::optional<int> fallback, long low, long high) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') {
    if (fallback) return *fallback;
    throw std::invalid_argument(std::string(name) +
                                " is not set (a data-parallel run needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT)");
  }
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < low || value > high)
    throw std::invalid_argument(std::string(name) + "=" + text + " is not an integer in [" + std::to_string(low) +
                                ", " + std::to_string(high) + "]");
  return static_cast<int>(value);
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

// The network device Gloo binds to: loopback when every rank is on this machine (MASTER_ADDR is loopback), else the
// interface GLOO_SOCKET_IFNAME names, else the address of this machine's hostname (PyTorch's rules).
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

DistributedEnv distributed_env() {
  if (std::getenv("RANK") == nullptr && std::getenv("WORLD_SIZE") == nullptr) return {};
  DistributedEnv env;
  env.world_size = integer_variable("WORLD_SIZE", std::nullopt, 1, 1 << 20);
  env.rank = integer_variable("RANK", std::nullopt, 0, env.world_size - 1);
  env.local_rank = integer_variable("LOCAL_RANK", 0, 0, env.world_size - 1);
  env.local_world_size = integer_variable("LOCAL_WORLD_SIZE", 1, 1, env.world_size);
  if (env.world_size == 1) return env;
  const char* master = std::getenv("MASTER_ADDR");
  if (master == nullptr || *master == '\0')
    throw std::invalid_argument("MASTER_ADDR is not set (the address where rank 0 serves the rendezvous)");
  env.master_addr = master;
  env.master_port = integer_variable("MASTER_PORT", std::nullopt, 1, 65535);
  return env;
}

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::unique_ptr<c10d::Reducer> reducer;  // after `group`: destroyed first
  torch::Device device;
  int64_t broadcasts = 0;  // numbers the store keys of broadcast(string)
};

DataParallel::DataParallel() = default;
DataParallel::~DataParallel() = default;

DataParallel::DataParallel(const DistributedEnv& env, torch::Device device, std::chrono::milliseconds timeout)
    : rank_(env.rank), world_size_(env.world_size) {
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    auto group = c10::make_intrusive<c10d::ProcessGroup>(store, env.rank, env.world_size);
    if (device.is_cuda()) {
#ifdef CONVPT_WITH_CUDA
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(device.index()));
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL,
                        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options));
      group->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
#else
      throw std::runtime_error("this convpt was built without CUDA, so without NCCL");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(gloo_device(env.master_addr));
      group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO,
                        c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options));
      group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    }
    group_ = std::make_unique<Group>(Group{store, group, nullptr, device});
  } catch (const std::exception& e) {
    const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
    throw std::runtime_error(name() + ": cannot join the group at " + env.master_addr + ":" +
                             std::to_string(env.master_port) + ": " +
                             (c10_error ? c10_error->what_without_backtrace() : e.what()));
  }
}

std::string DataParallel::name() const {
  return "rank " + std::to_string(rank_) + " of " + std::to_string(world_size_);
}

int64_t DataParallel::share(int64_t global, const std::string& key) const {
  if (global % world_size_ != 0)
    throw std::invalid_argument(key + " " + std::to_string(global) + " does not split over " +
                                std::to_string(world_size_) + " ranks (WORLD_SIZE): the batch is the global one");
  return global / world_size_;
}

void DataParallel::broadcast(torch::nn::Module& module) {
  if (!group_) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors = module.parameters();
  for (const auto& buffer : module.buffers()) tensors.push_back(buffer);
  constexpr size_t kBufferBytes = 256 << 20;  // as DistributedDataParallel
  c10d::broadcast_coalesced(group_->group, tensors, kBufferBytes, 0);
}

std::string DataParallel::broadcast(const std::string& value) {
  if (!group_) return value;
  const std::string key = "convpt/broadcast/" + std::to_string(group_->broadcasts++);
  if (is_main()) {
    group_->store->set(key, value);
    return value;
  }
  const std::vector<uint8_t> bytes = group_->store->get(key);
  return std::string(bytes.begin(), bytes.end());
}

std::vector<double> DataParallel::sum(const std::vector<double>& values) {
  if (!group_) return values;
  std::vector<torch::Tensor> tensors{torch::tensor(values, torch::kFloat64).to(group_->device)};
  group_->group->allreduce(tensors)->wait();
  const torch::Tensor result = tensors[0].cpu();
  return {result.data_ptr<double>(), result.data_ptr<double>() + result.numel()};
}

void DataParallel::barrier() {
  if (group_) group_->group->barrier()->wait();
}

void DataParallel::reduce_gradients(const std::vector<torch::Tensor>& parameters) {
  if (!group_) return;
  // The first assignment puts parameters in reverse order (gradients arrive roughly so) into buckets of 1 MB, then
  // 25 MB, as DistributedDataParallel; after the first step the Reducer rebuilds them in the order it observed.
  constexpr int64_t kFirstBucketBytes = 1 << 20, kBucketBytes = 25 << 20;
  const std::vector<torch::Tensor> reversed(parameters.rbegin(), parameters.rend());
  const std::vector<bool> dense(parameters.size(), false);
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      reversed, {size_t(kFirstBucketBytes), size_t(kBucketBytes)}, dense);
  for (auto& bucket : buckets)
    for (size_t& index : bucket) index = parameters.size() - 1 - index;
  group_->reducer = std::make_unique<c10d::Reducer>(
      parameters, std::move(buckets), group_->group, dense, kBucketBytes, /*find_unused_parameters=*/false,
      /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{}, kFirstBucketBytes,
      /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
      std::vector<int64_t>(limits.begin(), limits.end()));
}

void DataParallel::start_step() {
  if (group_ && group_->reducer) group_->reducer->rebuild_buckets();  // a no-op after the first time
}

void DataParallel::expect_backward(const torch::Tensor& loss) {
  if (group_ && group_->reducer) group_->reducer->prepare_for_backward({loss});
}

std::shared_ptr<DataParallel> join_data_parallel(const config::RunConfig& run, torch::Device& device) {
  const DistributedEnv env = distributed_env();
  if (env.world_size == 1) return std::make_shared<DataParallel>();
  log::set_label("[rank " + std::to_string(env.rank) + "]");
  if (env.rank != 0) log::init(log::Level::warn);
  if (device.is_cuda()) {
    // One GPU per local rank (as torchrun): more ranks than GPUs would fail later as an "invalid device ordinal".
    const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
    if (env.local_rank >= gpus)
      throw std::runtime_error("LOCAL_RANK " + std::to_string(env.local_rank) + " needs GPU " +
                               std::to_string(env.local_rank) + ", but this machine has " + std::to_string(gpus) +
                               ": start at most " + std::to_string(gpus) + " processes per machine with --device cuda");
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  }
  if (run.threads == 0 && env.local_world_size > 1)
    torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / env.local_world_size)));
  auto parallel =
      std::make_shared<DataParallel>(env, device, std::chrono::milliseconds(run.dist_timeout_s * 1000));
  log::info("data parallel: ", parallel->world_size(), " ranks over ", device.is_cuda() ? "NCCL" : "Gloo",
            ", rendezvous at ", env.master_addr, ":", env.master_port);
  return parallel;
}

}  // namespace convpt::training
