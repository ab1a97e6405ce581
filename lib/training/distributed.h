#pragma once
// Data-parallel training on LibTorch's c10d: a TCPStore for the rendezvous (rank 0 serves it), Gloo between CPU
// processes, NCCL between GPUs, and c10d's Reducer (the engine of PyTorch's DistributedDataParallel) for the
// gradients: bucketed all-reduces launched from autograd hooks while the backward pass is still running.
//
// The processes find each other through torchrun's environment variables (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), which `convpt launch` also sets. Without them a process trains alone, and every
// operation here is local.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "config/config.h"

namespace convpt::training {

// A process's place in a data-parallel run.
struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        // on its machine: which GPU it drives
  int local_world_size = 1;  // processes on its machine (LOCAL_WORLD_SIZE, else 1): they share its CPU cores
  std::string master_addr;   // where rank 0 serves the rendezvous store
  int master_port = 0;
};

// Reads the environment: none of RANK and WORLD_SIZE set means a single process. Throws std::invalid_argument
// naming a variable that is missing or malformed.
DistributedEnv distributed_env();

class DataParallel {
 public:
  // A single process.
  DataParallel();
  // Joins the group of `env` over Gloo (CPU `device`) or NCCL (CUDA). A collective, or the rendezvous, that waits
  // longer than `timeout` for another rank throws instead of hanging.
  DataParallel(const DistributedEnv& env, torch::Device device, std::chrono::milliseconds timeout);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }  // the rank that writes the run directory
  std::string name() const;                     // "rank R of W", for messages

  // `global` (a config's batch size, `key`) split evenly over the ranks; throws std::invalid_argument otherwise.
  int64_t share(int64_t global, const std::string& key) const;

  // Rank 0's parameters and buffers of `module`, copied to every rank.
  void broadcast(torch::nn::Module& module);
  // Rank 0's `value` on every rank.
  std::string broadcast(const std::string& value);
  // Element-wise sums over ranks.
  std::vector<double> sum(const std::vector<double>& values);
  void barrier();

  // Reduces the gradients of `parameters` from now on (a group of one has nothing to reduce): after each backward
  // pass announced with expect_backward(), every rank holds the average over ranks of its gradients, including
  // those accumulated by backward passes since the last reduction.
  void reduce_gradients(const std::vector<torch::Tensor>& parameters);
  // Before a training step's forward passes.
  void start_step();
  // Before the backward pass of `loss` that completes a step's gradients.
  void expect_backward(const torch::Tensor& loss);

 private:
  struct Group;
  std::unique_ptr<Group> group_;  // null for a single process
  int rank_ = 0;
  int world_size_ = 1;
};

// The data-parallel group that the environment describes (a group of one without it), on the device it gives
// this process: `device` becomes cuda:LOCAL_RANK for CUDA runs. Processes sharing a machine share its cores when
// run.threads is 0 (one per core), and only rank 0 logs below warnings.
std::shared_ptr<DataParallel> join_data_parallel(const config::RunConfig& run, torch::Device& device);

}  // namespace convpt::training
