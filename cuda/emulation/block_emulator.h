#pragma once
// Runs CUDA kernels on the CPU: a test tool for the kernels' index arithmetic, tiling and synchronisation on a
// machine without a GPU (tests/kernel_emulation_test.cpp). Include it instead of nvcc's built-ins (see
// ../kernel_builtins.h) and compile the kernel source with a host compiler.
//
// Blocks run one after another; the threads of a block run as fibers on one OS thread (x86-64 hosts), each until its
// next __syncthreads, in thread order, reversed every other barrier interval, so a thread that reads what another
// has not yet written before the barrier meets it either way; every run is deterministic. Modelled: threadIdx,
// blockIdx, blockDim, gridDim; __syncthreads, which threads that have exited no longer wait for (as on sm_70 and
// later); dynamic shared memory, filled with 0xff bytes first (NaN in every float type), so a read of what no thread
// wrote shows up in the results; static shared memory (one per kernel, not poisoned); cp.async (copies of 4, 8 or
// 16 bytes, aligned to their size, else abort): its destination is poisoned at issue and written only when a
// __pipeline_wait_prior lets its commit group complete, so a read before the wait, or before the barrier after
// another thread's wait, reads NaN; warp-collective operations (the tensor-core mma below): each lane leaves its
// operands and waits until every lane of its warp has reached the same collective, else the run aborts. Not
// modelled: other warp intrinsics, memory ordering beyond that, barriers reached at different places, timing.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>  // dim3, uint3, cudaStream_t (types only: nothing here calls the runtime)

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

// Host compilers see CUDA's execution-space keywords as unknown attributes; a function-scope __shared__ variable
// is one per block, and blocks run one at a time, so a static one serves.
#undef __host__
#define __host__
#undef __device__
#define __device__
#undef __global__
#define __global__
#undef __shared__
#define __shared__ static
#undef __launch_bounds__
#define __launch_bounds__(...)

inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace convpt::cuda::emulation {

// Switching between fibers: each has its own stack; a switch saves the callee-saved registers and the floating-point
// control words on the current stack, stores the stack pointer in *from, and resumes the stack at `to` the same way.
// ucontext's swapcontext would do, but it makes two system calls per switch (for the signal mask), and a block's
// barrier is 512 switches. x86-64 System V only.
#if !defined(__x86_64__)
#error "block_emulator.h: the fiber switch is written for x86-64"
#endif
extern "C" void convpt_emulator_switch(void** from, void* to);
// Weak, so that every translation unit that includes this header may define it: the linker keeps one.
asm(R"(
    .pushsection .text
    .p2align 4
    .weak convpt_emulator_switch
    .type convpt_emulator_switch, @function
convpt_emulator_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size convpt_emulator_switch, .-convpt_emulator_switch
    .popsection
)");

// The block being run: its threads' fibers and its dynamic shared memory.
class Block {
 public:
  static Block& current() {
    static Block block;
    return block;
  }

  // Runs body() as every thread of a block of blockDim threads at blockIdx.
  void run(const std::function<void()>& body, size_t shared_bytes) {
    shared_.assign(shared_bytes + 16, 0xff);
    body_ = &body;
    const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
    if (fibers_.size() < threads) fibers_.resize(threads);  // never shrinks: fresh stacks are slow to touch
    for (unsigned t = 0; t < threads; ++t) {
      Fiber& f = fibers_[t];
      if (!f.stack) f.stack = std::make_unique_for_overwrite<uint64_t[]>(kStackWords);
      f.sp = initial_stack(f.stack.get() + kStackWords);
      f.finished = false;
      f.waits = Wait::barrier;  // all start together
      f.collectives = 0;
      f.open.clear();
      f.committed.clear();
    }
    threads_ = threads;
    // Each round resumes threads until their next wait or return: those at a warp collective while there are any
    // (their warps have all arrived: each lane ran up to it in the round before), else all, past the barrier.
    bool reversed = false;
    for (;;) {
      bool live = false, at_collective = false;
      for (unsigned t = 0; t < threads; ++t) {
        live |= !fibers_[t].finished;
        at_collective |= !fibers_[t].finished && fibers_[t].waits == Wait::collective;
      }
      if (!live) break;
      for (unsigned i = 0; i < threads; ++i) {
        current_ = reversed ? threads - 1 - i : i;
        Fiber& f = fibers_[current_];
        if (f.finished || (at_collective && f.waits != Wait::collective)) continue;
        threadIdx = {current_ % blockDim.x, current_ / blockDim.x % blockDim.y, current_ / (blockDim.x * blockDim.y)};
        convpt_emulator_switch(&scheduler_sp_, f.sp);
      }
      reversed = !reversed;
    }
  }

  void barrier() { wait(Wait::barrier); }

  // A warp-collective operation of the running thread: leaves `mine`, waits until every lane of its warp has left
  // its own at the same collective, and returns them all, by lane (valid until the lane's next collective).
  // Collectives alternate between two slots, so a lane that has gone on to its next one while others still read
  // this one leaves its operands in the other.
  template <typename Operands>
  std::array<const Operands*, 32> warp_exchange(const Operands& mine) {
    static_assert(std::is_trivially_copyable_v<Operands>);
    const unsigned self = current_, first = self / 32 * 32;
    const uint64_t n = fibers_[self].collectives++;
    std::vector<unsigned char>& slot = fibers_[self].slots[n % 2];
    slot.resize(sizeof(Operands));
    std::memcpy(slot.data(), &mine, sizeof(Operands));
    wait(Wait::collective);
    std::array<const Operands*, 32> all;
    for (unsigned lane = 0; lane < 32; ++lane) {
      const Fiber* f = first + lane < threads_ ? &fibers_[first + lane] : nullptr;
      if (!f || (f->collectives != n + 1 && f->collectives != n + 2)) {  // n + 2: gone on to its next one
        std::fprintf(stderr, "emulated warp collective: lane %u of the warp of thread %u did not reach it\n", lane,
                     self);
        std::abort();
      }
      all[lane] = reinterpret_cast<const Operands*>(f->slots[n % 2].data());
    }
    return all;
  }
  unsigned lane() const { return current_ % 32; }

  // cp.async of the running thread: copies wait in commit groups until a wait lets their group complete.
  void copy_async(void* dst, const void* src, size_t bytes) {
    if ((bytes != 4 && bytes != 8 && bytes != 16) || reinterpret_cast<uintptr_t>(dst) % bytes != 0 ||
        reinterpret_cast<uintptr_t>(src) % bytes != 0) {
      std::fprintf(stderr, "emulated cp.async: %zu bytes from %p to %p: misaligned or of a size cp.async lacks\n",
                   bytes, src, dst);
      std::abort();
    }
    std::memset(dst, 0xff, bytes);
    fibers_[current_].open.push_back({dst, src, bytes});
  }
  void commit() {
    Fiber& f = fibers_[current_];
    f.committed.push_back(std::move(f.open));
    f.open.clear();
  }
  void wait_prior(size_t pending) {  // completes all but the newest `pending` commit groups
    Fiber& f = fibers_[current_];
    while (f.committed.size() > pending) {
      for (const Copy& c : f.committed.front()) std::memcpy(c.dst, c.src, c.bytes);
      f.committed.erase(f.committed.begin());
    }
  }

  unsigned char* shared_memory() {  // 16-byte aligned, as CUDA's
    return reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(shared_.data()) + 15) / 16 * 16);
  }

 private:
  static constexpr size_t kStackWords = 32 << 10;  // 256 KiB
  struct Copy {
    void* dst;
    const void* src;
    size_t bytes;
  };
  enum class Wait { barrier, collective };
  struct Fiber {
    void* sp = nullptr;
    std::unique_ptr<uint64_t[]> stack;
    bool finished = false;
    Wait waits = Wait::barrier;
    uint64_t collectives = 0;                        // warp collectives reached
    std::array<std::vector<unsigned char>, 2> slots;  // operands left at them, alternating
    std::vector<Copy> open;                     // cp.async issued since the last commit
    std::vector<std::vector<Copy>> committed;   // commit groups not yet completed, oldest first
  };

  // A stack that convpt_emulator_switch resumes into thread_main: the control words, six registers, then
  // thread_main as the return address. `top` is 16-byte aligned; thread_main starts with the stack pointer 8 below
  // it, as after a call.
  static void* initial_stack(uint64_t* top) {
    uint64_t* sp = top - 1;
    *--sp = reinterpret_cast<uint64_t>(&thread_main);
    for (int r = 0; r < 6; ++r) *--sp = 0;
    uint32_t control[2];
    asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(control[0]), "=m"(control[1]));
    *--sp = uint64_t(control[0]) | uint64_t(control[1] & 0xffff) << 32;
    return sp;
  }

  void wait(Wait why) {
    fibers_[current_].waits = why;
    convpt_emulator_switch(&fibers_[current_].sp, scheduler_sp_);
  }

  [[noreturn]] static void thread_main() {
    Block& b = current();
    (*b.body_)();
    b.fibers_[b.current_].finished = true;
    void* unused;
    convpt_emulator_switch(&unused, b.scheduler_sp_);  // never resumed
    __builtin_unreachable();
  }

  void* scheduler_sp_ = nullptr;
  std::vector<Fiber> fibers_;
  unsigned current_ = 0, threads_ = 0;
  const std::function<void()>* body_ = nullptr;
  std::vector<unsigned char> shared_;
};

// Launches kernel<<<grid, block, shared_bytes>>>(args...).
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, Args... args) {
  gridDim = grid;
  blockDim = block;
  const std::function<void()> body = [&] { kernel(args...); };
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = {x, y, z};
        Block::current().run(body, shared_bytes);
      }
}

// The Launcher of ../depthwise_conv_device.cuh on the CPU, as a device with `resident` blocks in flight (a few, so
// that persistent blocks each walk several tiles) and `max_shared_bytes` of shared memory per block (sm_90's). Where
// `launched` is set, each launch appends its `what` to it, so a test sees which kernels ran.
struct EmulatedLauncher {
  int64_t resident = 3;
  size_t max_shared_bytes = 227 << 10;
  std::vector<std::string>* launched = nullptr;

  template <typename... Params, typename... Args>
  void operator()(const char* what, void (*kernel)(Params...), dim3 blocks, int threads, size_t shared_bytes,
                  Args... args) const {
    if (shared_bytes > max_shared_bytes)
      throw std::invalid_argument("emulated launch: " + std::to_string(shared_bytes) + " bytes of shared memory");
    if (launched) launched->emplace_back(what);
    launch(kernel, blocks, dim3(unsigned(threads)), shared_bytes, args...);
  }

  template <typename Kernel>
  int64_t resident_blocks(Kernel, int, size_t shared_bytes, const char*) const {
    return shared_bytes <= max_shared_bytes ? resident : 0;
  }

  size_t shared_limit() const { return max_shared_bytes; }

  void zero(void* p, size_t bytes, const char*) const { std::memset(p, 0, bytes); }
};

}  // namespace convpt::cuda::emulation

inline void __syncthreads() { convpt::cuda::emulation::Block::current().barrier(); }

inline void __pipeline_memcpy_async(void* dst, const void* src, size_t bytes) {
  convpt::cuda::emulation::Block::current().copy_async(dst, src, bytes);
}
inline void __pipeline_commit() { convpt::cuda::emulation::Block::current().commit(); }
inline void __pipeline_wait_prior(size_t pending) { convpt::cuda::emulation::Block::current().wait_prior(pending); }

namespace convpt::cuda {
inline unsigned char* dynamic_shared_memory() { return emulation::Block::current().shared_memory(); }

// st.global.v4.b32: aborts where p is not 16-byte aligned, as the GPU would fault.
inline void store_16_bytes(void* p, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) {
    std::fprintf(stderr, "emulated 16-byte store to %p: misaligned\n", p);
    std::abort();
  }
  const uint32_t words[4] = {a, b, c, d};
  std::memcpy(p, words, sizeof words);
}

// __byte_perm (PRMT): byte i of the result is the byte of {b:a} (a the low word) that nibble i of selector names.
inline uint32_t byte_perm(uint32_t a, uint32_t b, uint32_t selector) {
  const uint64_t bytes = uint64_t(b) << 32 | a;
  uint32_t result = 0;
  for (int i = 0; i < 4; ++i) result |= uint32_t(bytes >> 8 * (selector >> 4 * i & 7) & 0xff) << 8 * i;
  return result;
}

// mma.sync.aligned.m16n8k16.row.col.f32.T.T.f32 (T: bf16 or f16): d = a * b + d for the warp's 16 x 8 tile, each lane
// holding the fragments the PTX ISA lays out ("Matrix Fragments for mma.m16n8k16 with floating point type"): with
// g = lane / 4 and q = lane % 4, a[0..3] hold A[g][2q..2q+1], A[g+8][2q..], A[g][2q+8..], A[g+8][2q+8..] (two
// elements per word, the lower column in the low half); b[0..1] hold B[2q..2q+1][g], B[2q+8..2q+9][g]; d[0..3] hold
// D[g][2q], D[g][2q+1], D[g+8][2q], D[g+8][2q+1]. Products are exact in float; sums are float, in k order.
template <typename T>
void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  struct Operands {
    uint32_t a[4], b[2];
    float c[4];
  };
  Operands mine{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}, {d[0], d[1], d[2], d[3]}};
  const std::array<const Operands*, 32> all = emulation::Block::current().warp_exchange(mine);
  const auto element = [](uint32_t word, int high) {
    const uint16_t bits = uint16_t(high ? word >> 16 : word & 0xffffu);
    T v;
    std::memcpy(&v, &bits, sizeof v);
    if constexpr (std::is_same_v<T, __nv_bfloat16>)
      return __bfloat162float(v);
    else
      return __half2float(v);
  };
  const auto A = [&](int r, int i) { return element(all[4 * (r % 8) + i % 8 / 2]->a[(r >= 8) + 2 * (i >= 8)], i % 2); };
  const auto B = [&](int i, int n) { return element(all[4 * n + i % 8 / 2]->b[i >= 8], i % 2); };
  const auto C = [&](int r, int n) { return all[4 * (r % 8) + n / 2]->c[2 * (r >= 8) + n % 2]; };
  const unsigned lane = emulation::Block::current().lane(), g = lane / 4, q = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int r = int(g) + 8 * (e / 2), n = int(2 * q) + e % 2;
    float sum = C(r, n);
    for (int i = 0; i < 16; ++i) sum += A(r, i) * B(i, n);
    d[e] = sum;
  }
}
}  // namespace convpt::cuda
