// `convpt launch`: the processes of a data-parallel run on this machine, with the environment torchrun would give
// them (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). The first process to fail stops
// the others, and its exit code is the launcher's.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "cli/cli.h"
#include "cli/validators.h"

extern char** environ;

namespace convpt::cli {
namespace {

volatile sig_atomic_t g_signal = 0;
extern "C" void remember_signal(int signal) { g_signal = signal; }

// The environment of one process: ours, with the rendezvous variables replaced.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& variables) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (!variables.count(text.substr(0, text.find('=')))) env.push_back(text);
  }
  for (const auto& [name, value] : variables) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// As a shell reports it: the exit status, or 128 + the signal that ended the process.
int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

Action add_launch_command(CLI::App& app, const GlobalOptions&) {
  struct Flags {
    int nproc = 1, nnodes = 1, node_rank = 0, master_port = 29500;
    std::string master_addr = "127.0.0.1";
    double grace_s = 30;
    std::vector<std::string> command;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "Start the processes of a data-parallel run on this machine: convpt launch --nproc N -- convpt pretrain ...");
  cmd->add_option("--nproc", flags->nproc, "processes on this machine (one per GPU; on a CPU they share the cores)")
      ->required()
      ->check(integer_in(1, std::numeric_limits<int>::max()));
  cmd->add_option("--nnodes", flags->nnodes, "machines in the run, each with --nproc processes")
      ->check(integer_in(1, std::numeric_limits<int>::max()))
      ->capture_default_str();
  cmd->add_option("--node-rank", flags->node_rank, "this machine's place among them (0: the one at --master-addr)")
      ->check(integer_in(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  cmd->add_option("--master-addr", flags->master_addr, "address of machine 0, where rank 0 serves the rendezvous")
      ->capture_default_str();
  cmd->add_option("--master-port", flags->master_port, "its port")->check(integer_in(1, 65535))->capture_default_str();
  cmd->add_option("--grace-s", flags->grace_s, "after a failure, seconds the others get to exit before SIGKILL")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("command", flags->command, "after --: the command of every process ('convpt' runs this binary)")
      ->required();
  return [flags]() -> int {
    if (flags->node_rank >= flags->nnodes)
      throw UsageError("--node-rank " + std::to_string(flags->node_rank) + " is not below --nnodes " +
                                  std::to_string(flags->nnodes));
    std::vector<std::string> argv = flags->command;
    if (argv[0] == "convpt") argv[0] = std::filesystem::read_symlink("/proc/self/exe").string();

    struct sigaction action {};
    action.sa_handler = remember_signal;  // no SA_RESTART: a signal interrupts the waiting below
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    std::map<pid_t, int> running;  // pid -> rank
    for (int local = 0; local < flags->nproc; ++local) {
      const int rank = flags->node_rank * flags->nproc + local;
      std::vector<std::string> env = child_environment({{"RANK", std::to_string(rank)},
                                                        {"LOCAL_RANK", std::to_string(local)},
                                                        {"WORLD_SIZE", std::to_string(flags->nnodes * flags->nproc)},
                                                        {"LOCAL_WORLD_SIZE", std::to_string(flags->nproc)},
                                                        {"MASTER_ADDR", flags->master_addr},
                                                        {"MASTER_PORT", std::to_string(flags->master_port)}});
      std::vector<char*> child_argv = pointers(argv), child_env = pointers(env);
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
      if (pid == 0) {
        execvpe(child_argv[0], child_argv.data(), child_env.data());
        std::cerr << "convpt launch: cannot run " << argv[0] << ": " << std::strerror(errno) << "\n";
        _exit(127);
      }
      running[pid] = rank;
    }

    // Waits for every process. The first failure (an exit code other than 0 and kInterrupted, which a signal-stopped
    // run returns after its checkpoint) stops the others: SIGTERM, then SIGKILL after the grace period.
    std::optional<int> failure;
    bool interrupted = false;
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    auto send_all = [&](int signal) {
      for (const auto& [pid, rank] : running) kill(pid, signal);
    };
    while (!running.empty()) {
      if (g_signal != 0) {  // ours goes to every process (a terminal's Ctrl-C reaches them anyway)
        send_all(g_signal);
        g_signal = 0;
      }
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid > 0 && running.count(pid)) {
        const int rank = running.at(pid), code = exit_code_of(status);
        running.erase(pid);
        interrupted |= code == kInterrupted;
        if (code == kOk || code == kInterrupted) continue;
        std::cerr << "convpt launch: rank " << rank << " exited with code " << code
                  << (WIFSIGNALED(status) ? std::string(" (") + strsignal(WTERMSIG(status)) + ")" : "")
                  << (failure || running.empty() ? "" : "; stopping the other ranks") << "\n";
        if (failure) continue;
        failure = code;
        send_all(SIGTERM);
        kill_at = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(flags->grace_s));
        continue;
      }
      if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
        std::cerr << "convpt launch: " << running.size() << " rank(s) still running after " << flags->grace_s
                  << " s; killing them\n";
        send_all(SIGKILL);
        kill_at.reset();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return failure ? *failure : interrupted ? kInterrupted : kOk;
  };
}

}  // namespace convpt::cli
