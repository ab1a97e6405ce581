// The depthwise conv op's CUDA kernels and their launch plans, generic over a Launcher: depthwise_conv_kernels.cu
// launches them on a GPU; cuda/emulation/block_emulator.h runs the same source on the CPU, for tests where no GPU
// is. See depthwise_conv_kernels.h for the interface and lib/ops/depthwise_conv.h for the semantics.
//
// Dilation disappears by splitting time into phases: the steps t = phase + m * dilation (m = 0, 1, ...) form a
// sequence on which the conv has dilation 1, since every tap shifts t by a multiple of the dilation. Work is cut
// into tiles of TileM steps of one phase x TileC channels. A tile's input rows, with the window's halo, are read
// from global memory once (channels contiguous, coalesced, 16-byte loads where the layout allows) into shared
// memory, and stay there while all taps use them. Taps are applied kPass at a time, so shared memory stays bounded
// for any kernel size and dilation.
//
// The conv kernel (forward and input gradient) is memory-bound for small k, so it keeps loads in flight: its blocks
// are persistent, each walking a fixed list of (tile, pass) stages, and copy the next stage's input into shared
// memory with cp.async (in the input's own type) while computing the current one. Each thread owns Vec adjacent
// channels of Rows consecutive steps and walks the taps kChunk at a time over a register window of
// Rows + kChunk - 1 input rows, so each input value read from shared memory feeds up to kChunk multiply-adds and
// each static tap up to Rows. The input gradient is the same kernel on grad_out with the taps reversed and the
// window mirrored (offset k - 1 - P); for dynamic taps it takes the taps of the input position instead of the
// output position, which turns the scatter into a gather.
//
// Static 16-bit taps (the lightweight and dilated models in bf16 or fp16) take tensor-core kernels for the forward,
// the input gradient (mma_conv_kernel) and the weight gradient's first stage (mma_weight_grad_kernel). The
// multiply-add kernels are issue-bound at large k (one fp32 multiply-add per tap and output); as matrix products
// the taps cost next to nothing, and the kernels are left with moving memory. conv() and weight_grad() pick them
// wherever they take the shape (k <= kMmaMaxTaps, C a multiple of 8, 16-byte aligned tensors). Their products run
// over banded matrices that hold zeros beside the taps, so a non-finite input can turn outputs up to 16 k-steps'
// worth of steps away NaN (0 x inf), where the reference keeps them finite.
//
// A Launcher provides: operator()(what, kernel, grid, threads, shared_bytes, args...) launches; resident_blocks(
// kernel, threads, shared_bytes, what) says how many blocks of `kernel` run at once (0: one does not fit);
// shared_limit() is the most shared memory a block may opt into on the device (227 KiB on sm_90, 163 KiB on sm_80,
// 99 KiB on sm_86/sm_89); zero(pointer, bytes, what) clears memory. All asynchronous on the launcher's stream;
// failures throw.
#pragma once
#include "depthwise_conv_kernels.h"
#include "fast_div.h"
#include "kernel_builtins.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace convpt::cuda {
namespace {

constexpr int kVec = 2;                     // channels per thread
constexpr int kThreadsC = 32;               // threads along channels: a warp covers one row of the tile
constexpr int kThreadsM = 8;                // threads along time
constexpr int kRows = 8;                    // steps per thread
constexpr int kTileC = kVec * kThreadsC;    // 64 channels
constexpr int kTileM = kRows * kThreadsM;   // 64 steps
constexpr int kThreads = kThreadsC * kThreadsM;
constexpr int kChunk = 4;                   // taps per register-window step
constexpr int kPass = 32;                   // taps per shared-memory pass; a multiple of kChunk
constexpr int kReduceThreads = 128;
static_assert(kPass % kChunk == 0);

__host__ __device__ constexpr int64_t smaller(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ constexpr int64_t larger(int64_t a, int64_t b) { return a < b ? b : a; }

template <typename T>
struct AccOf {
  using type = float;
};
template <>
struct AccOf<double> {
  using type = double;
};
template <typename T>
using acc_t = typename AccOf<T>::type;

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T from_acc(acc_t<T> v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_acc<__half>(float v) {
  return __float2half_rn(v);
}

// N elements moved by one vector load or store.
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};
template <typename T>
constexpr int kLoadVec = 16 / sizeof(T);  // elements per 16-byte load

// Sizes of one call, in the phase view described at the top.
struct Geometry {
  int64_t B, T, C, H, k, dilation;
  int64_t offset;   // P of the window computed (mirrored for the input gradient)
  int64_t phases;   // min(dilation, T)
  int64_t tile_m;   // steps per row tile
  int64_t tiles_m;  // row tiles in the longest phase
  bool dynamic;
  FastDiv by_tiles_m, by_phases, by_dilation, by_group;  // the kernels' divisors

  __host__ __device__ int64_t group() const { return by_group.divisor; }  // channels per head
  __host__ __device__ int64_t length(int64_t phase) const {  // steps in a phase
    return by_dilation.div(uint32_t(T - phase + dilation - 1));
  }
  __host__ __device__ int64_t time(int64_t phase, int64_t m) const { return phase + m * dilation; }
  __host__ __device__ int64_t row_tiles() const { return B * phases * tiles_m; }
};

Geometry geometry(const ConvShape& s, bool mirrored, int64_t tile_m = kTileM) {
  if (s.T + s.dilation > std::numeric_limits<int32_t>::max() || s.C > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("depthwise_conv: T + dilation and C must fit in 31 bits for the CUDA kernels");
  Geometry g{s.B, s.T, s.C, s.H, s.k, s.dilation, mirrored ? s.k - 1 - s.offset : s.offset, 0, tile_m, 0, s.dynamic};
  g.by_dilation = FastDiv(g.dilation);
  g.phases = smaller(s.dilation, s.T);
  g.tiles_m = (g.length(0) + tile_m - 1) / tile_m;
  if (g.row_tiles() > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("depthwise_conv: tensor too large for the CUDA kernels (" +
                                std::to_string(g.row_tiles()) + " row tiles)");
  g.by_tiles_m = FastDiv(g.tiles_m);
  g.by_phases = FastDiv(g.phases);
  g.by_group = FastDiv(s.C / s.H);
  return g;
}

// Where a row tile (blockIdx.x or a tile index) lies: batch, phase, first step m0 and the phase's length.
struct Tile {
  int64_t b, phase, m0, length;
  __device__ Tile(const Geometry& g, uint32_t index) {
    const uint32_t mt = g.by_tiles_m.mod(index);
    index = g.by_tiles_m.div(index);
    phase = g.by_phases.mod(index);
    b = g.by_phases.div(index);
    m0 = mt * g.tile_m;
    length = g.length(phase);
  }
};

// Copies steps [m_begin, m_begin + rows) of src[b] in `phase`, channels [c0, c0 + width), into dst (row stride
// `stride`, kTileC columns) as the accumulation type; zeros outside the sequence and from column `width` on.
// `aligned`: src is 16-byte aligned and C a multiple of kLoadVec, so whole 16-byte groups can be loaded at once.
template <typename T>
__device__ void load_tile(const Geometry& g, const T* __restrict__ src, const Tile& tile, int64_t m_begin, int rows,
                          int64_t c0, int width, bool aligned, acc_t<T>* dst, int stride) {
  constexpr int L = kLoadVec<T>;
  constexpr int groups = kTileC / L;
  const bool vector = aligned && c0 % L == 0;
  for (int i = threadIdx.x; i < rows * groups; i += blockDim.x) {
    const int r = i / groups, c = i % groups * L;
    const int64_t m = m_begin + r;
    const bool in_time = m >= 0 && m < tile.length;
    const T* in = src + ((tile.b * g.T + (in_time ? g.time(tile.phase, m) : 0)) * g.C + c0 + c);
    acc_t<T>* out = dst + r * stride + c;
    if (in_time && vector && c + L <= width) {
      const Pack<T, L> p = *reinterpret_cast<const Pack<T, L>*>(in);
#pragma unroll
      for (int e = 0; e < L; ++e) out[e] = to_acc(p.v[e]);
    } else {
#pragma unroll
      for (int e = 0; e < L; ++e) out[e] = in_time && c + e < width ? to_acc(in[e]) : acc_t<T>(0);
    }
  }
}

// Tile shape of the conv kernel: each thread owns Vec adjacent channels of Rows consecutive steps; a block keeps
// Stages stage buffers (Stages - 1 loads in flight while it computes) and asks the compiler to fit MinBlocks blocks
// on a multiprocessor.
template <int Rows_, int Vec_, int Stages_, int MinBlocks_>
struct ConvTiling {
  static constexpr int Rows = Rows_, Vec = Vec_, Stages = Stages_, MinBlocks = MinBlocks_;
  static_assert(Stages >= 2);
  static constexpr int TileC = Vec * kThreadsC, TileM = Rows * kThreadsM;
  static constexpr int TapLoads = kPass * TileC / kThreads;  // static taps each thread stages per pass
  static_assert(kPass * TileC % kThreads == 0);
};
// Chosen by cuda/tuning/conv_tiling_bench.cu on an H200 (results/gpu/README.md): 16 steps per thread for static
// taps. Dynamic taps hold a pointer per step, and float64 tiles need twice the shared memory, so those keep 8.
template <typename T, bool dynamic>
using ConvTile = std::conditional_t<dynamic || sizeof(T) == 8, ConvTiling<8, 2, 2, 1>, ConvTiling<16, 2, 2, 1>>;

// How the conv kernel's work is cut: `tiles` (row tile x channel tile) of `passes` passes of up to pass_taps taps
// each; stage s of a block is pass s % passes of its (s / passes)-th tile, tiles taken gridDim.x apart (the channel
// tile the fastest index). keep_taps: each block stays on one channel tile and each stage buffer on one pass, so a
// buffer's static taps, once staged, serve all its later stages.
struct ConvWork {
  uint32_t tiles;
  FastDiv channel_tiles, passes;
  int pass_taps;
  bool keep_taps;
};

template <typename Tiling>
ConvWork conv_work(const Geometry& g) {
  const int64_t padded_k = (g.k + kChunk - 1) / kChunk * kChunk;
  const int64_t channel_tiles = (g.C + Tiling::TileC - 1) / Tiling::TileC;
  const int64_t tiles = g.row_tiles() * channel_tiles, passes = (g.k + kPass - 1) / kPass;
  if (tiles * passes > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("depthwise_conv: tensor too large for the CUDA kernels (" + std::to_string(tiles) +
                                " tiles of " + std::to_string(passes) + " passes)");
  return {uint32_t(tiles), FastDiv(channel_tiles), FastDiv(passes), int(smaller(kPass, padded_k)), false};
}

__host__ __device__ constexpr size_t align16(size_t bytes) { return (bytes + 15) / 16 * 16; }

// One stage buffer: the input rows (in T) and, for static taps, the pass's taps per channel (as the accumulation
// type). The kernel holds Tiling::Stages of them.
template <typename T, typename Tiling>
__host__ __device__ size_t conv_input_bytes(int pass_taps) {
  return align16(size_t(Tiling::TileM + pass_taps - 1) * Tiling::TileC * sizeof(T));
}
template <typename T, typename Tiling>
__host__ __device__ size_t conv_stage_bytes(int pass_taps, bool dynamic) {
  return conv_input_bytes<T, Tiling>(pass_taps) + (dynamic ? 0 : size_t(pass_taps) * Tiling::TileC * sizeof(acc_t<T>));
}

// Where stage s of this block lies.
template <typename Tiling>
struct Stage {
  Tile tile;
  int64_t c0, j0;
  int width, taps, padded;  // channels in the tile; taps in the pass, and rounded up to kChunk
  __device__ Stage(const Geometry& g, const ConvWork& work, uint32_t s)
      : tile(g, work.channel_tiles.div(blockIdx.x + work.passes.div(s) * gridDim.x)) {
    c0 = work.channel_tiles.mod(blockIdx.x + work.passes.div(s) * gridDim.x) * int64_t(Tiling::TileC);
    j0 = work.passes.mod(s) * int64_t(kPass);
    width = int(smaller(Tiling::TileC, g.C - c0));
    taps = int(smaller(kPass, g.k - j0));
    padded = (taps + kChunk - 1) / kChunk * kChunk;  // taps beyond k are zero
  }
};

// Starts copying steps [m_begin, m_begin + rows) of src[b] in the tile's phase, channels [c0, c0 + width), into dst
// (TileC columns, rows Stride elements apart, in T) with cp.async; zeros outside the sequence and from column
// `width` on are stored directly.
template <typename T, int TileC, int Stride = TileC>
__device__ void load_rows_async(const Geometry& g, const T* __restrict__ src, const Tile& tile, int64_t m_begin,
                                int rows, int64_t c0, int width, bool aligned, T* dst) {
  constexpr int L = kLoadVec<T>;
  constexpr int groups = TileC / L;  // 16-byte groups in a row
  static_assert(TileC % L == 0 && kThreads % groups == 0);
  constexpr int row_step = kThreads / groups;  // rows between a thread's copies
  const int c = threadIdx.x % groups * L;       // each thread keeps one column group and walks rows
  const bool vector = aligned && c + L <= width;
  int r = threadIdx.x / groups;
  int64_t m = m_begin + r;
  // Offset of step m's element (c0 + c), advanced by the row step rather than recomputed; read only where m is in
  // the sequence.
  int64_t at = (tile.b * g.T + g.time(tile.phase, m)) * g.C + c0 + c;
  const int64_t at_step = row_step * g.dilation * g.C;
  for (; r < rows; r += row_step, m += row_step, at += at_step) {
    const bool in_time = m >= 0 && m < tile.length;
    T* out = dst + r * Stride + c;
    if (in_time && vector) {
      __pipeline_memcpy_async(out, src + at, 16);
    } else {
#pragma unroll
      for (int e = 0; e < L; ++e) out[e] = in_time && c + e < width ? src[at + e] : from_acc<T>(acc_t<T>(0));
    }
  }
}

// A stage's static taps, for the thread's share of [kPass][TileC] (taps past k and channels past C are zero).
// The thread's channel is the same in every slot (kThreads is a multiple of TileC), so its head is found once.
template <typename T, bool transposed, typename Tiling>
__device__ void load_static_taps(const Geometry& g, const Stage<Tiling>& st, const T* __restrict__ w,
                                 acc_t<T> (&staged)[Tiling::TapLoads]) {
  static_assert(kThreads % Tiling::TileC == 0);
  const int c = threadIdx.x % Tiling::TileC;
  const T* head_taps = w + int64_t(g.by_group.div(uint32_t(st.c0 + c))) * g.k;
#pragma unroll
  for (int u = 0; u < Tiling::TapLoads; ++u) {
    const int jr = (threadIdx.x + u * kThreads) / Tiling::TileC;
    if (u * (kThreads / Tiling::TileC) >= st.padded) break;  // the same for the whole block: a real branch
    const int64_t j = transposed ? g.k - 1 - (st.j0 + jr) : st.j0 + jr;
    staged[u] = jr < st.taps && c < st.width ? to_acc(head_taps[j]) : acc_t<T>(0);
  }
}

template <typename Tiling, typename A>
__device__ void store_static_taps(const ConvWork& work, const A (&staged)[Tiling::TapLoads], A* taps_s) {
#pragma unroll
  for (int u = 0; u < Tiling::TapLoads; ++u) {
    const int i = threadIdx.x + u * kThreads;
    if (i < work.pass_taps * Tiling::TileC) taps_s[i] = staged[u];
  }
}

// out = the conv of `in` with the taps w: the forward, or (transposed) the input gradient.
template <typename T, bool dynamic, bool transposed, typename Tiling>
__global__ void __launch_bounds__(kThreads, Tiling::MinBlocks)
    conv_kernel(Geometry g, ConvWork work, const T* __restrict__ in, const T* __restrict__ w, T* __restrict__ out,
                bool aligned) {
  using A = acc_t<T>;
  constexpr int Rows = Tiling::Rows, Vec = Tiling::Vec, TileC = Tiling::TileC, TileM = Tiling::TileM;
  unsigned char* shared = dynamic_shared_memory();
  const size_t input_bytes = conv_input_bytes<T, Tiling>(work.pass_taps);
  const size_t stage_bytes = conv_stage_bytes<T, Tiling>(work.pass_taps, dynamic);
  constexpr int ahead = Tiling::Stages - 1;  // stages in flight while one is computed
  const auto input_s = [&](uint32_t s) { return reinterpret_cast<T*>(shared + s % Tiling::Stages * stage_bytes); };
  const auto taps_s = [&](uint32_t s) {
    return reinterpret_cast<A*>(shared + s % Tiling::Stages * stage_bytes + input_bytes);
  };

  const int tx = threadIdx.x % kThreadsC, ty = threadIdx.x / kThreadsC;
  const int cl = tx * Vec;  // the thread's first channel in the tile
  const uint32_t stages = (work.tiles - blockIdx.x + gridDim.x - 1) / gridDim.x * work.passes.divisor;

  // Static taps of a stage pass through registers, so their loads overlap the current stage's arithmetic.
  A staged_taps[Tiling::TapLoads] = {};  // slots past a stage's taps keep stale values, in rows it never reads
  // Whether stage s must stage static taps (the same for the whole block).
  const auto new_taps = [&](uint32_t s) { return !dynamic && !(work.keep_taps && s >= Tiling::Stages); };
  const auto fetch = [&](uint32_t s) {  // starts copying stage s's rows; its static taps land in staged_taps
    const Stage<Tiling> st(g, work, s);
    load_rows_async<T, TileC>(g, in, st.tile, st.tile.m0 + st.j0 - g.offset, TileM + st.padded - 1, st.c0, st.width,
                              aligned, input_s(s));
    __pipeline_commit();
    if (new_taps(s)) load_static_taps<T, transposed, Tiling>(g, st, w, staged_taps);
  };
  const auto store_taps = [&](uint32_t s) {
    if (new_taps(s)) store_static_taps<Tiling>(work, staged_taps, taps_s(s));
  };

  for (uint32_t s = 0; s < ahead; ++s) {
    if (s < stages) {
      fetch(s);
      store_taps(s);
    } else {
      __pipeline_commit();  // empty groups keep "all but the newest `ahead` groups" meaning the current stage
    }
  }
  A acc[Rows][Vec];
  for (uint32_t s = 0; s < stages; ++s) {
    if (s + ahead < stages)
      fetch(s + ahead);  // into the buffer of stage s - 1, free since its end
    else
      __pipeline_commit();
    __pipeline_wait_prior(ahead);
    __syncthreads();  // stage s's rows and taps are in shared memory

    const Stage<Tiling> st(g, work, s);
    const int64_t m_first = st.tile.m0 + ty * Rows;  // the thread's first step
    // Dynamic taps: the thread's channels' offsets within a [H, k] row of taps (-1 past C), and for the forward the
    // rows of its own steps (null past the end).
    int64_t head_tap[Vec];
#pragma unroll
    for (int v = 0; v < Vec; ++v)
      head_tap[v] = cl + v < st.width ? int64_t(g.by_group.div(uint32_t(st.c0 + cl + v))) * g.k : -1;
    const auto tap_row = [&](int64_t m) -> const T* {
      return m >= 0 && m < st.tile.length ? w + (st.tile.b * g.T + g.time(st.tile.phase, m)) * g.H * g.k : nullptr;
    };
    const T* own_rows[dynamic ? Rows : 1];
    if constexpr (dynamic)
#pragma unroll
      for (int r = 0; r < Rows; ++r) own_rows[r] = tap_row(m_first + r);

    if (st.j0 == 0)
#pragma unroll
      for (int r = 0; r < Rows; ++r)
#pragma unroll
        for (int v = 0; v < Vec; ++v) acc[r][v] = A(0);

    // Row i of the window is input step m_first + j0 + jc + i - offset (for the dynamic input gradient, tap_rows[i]
    // holds that step's taps); sliding by kChunk rows per chunk is, fully unrolled, a renaming of registers.
    const T* rows = input_s(s) + ty * Rows * TileC + cl;
    const A* taps = taps_s(s) + cl;
    A win[Rows + kChunk - 1][Vec];
    const T* tap_rows[dynamic && transposed ? Rows + kChunk - 1 : 1];
#pragma unroll
    for (int chunk = 0; chunk < kPass / kChunk; ++chunk) {
      const int jc = chunk * kChunk;
      if (jc >= st.padded) break;
#pragma unroll
      for (int i = 0; i < Rows + kChunk - 1; ++i) {
        const bool slide = chunk > 0 && i < Rows - 1;
        if (slide) {
#pragma unroll
          for (int v = 0; v < Vec; ++v) win[i][v] = win[i + kChunk][v];
        } else {
          const Pack<T, Vec> p = *reinterpret_cast<const Pack<T, Vec>*>(rows + (jc + i) * TileC);
#pragma unroll
          for (int v = 0; v < Vec; ++v) win[i][v] = to_acc(p.v[v]);
        }
        if constexpr (dynamic && transposed)
          tap_rows[i] = slide ? tap_rows[i + kChunk] : tap_row(m_first + st.j0 + jc + i - g.offset);
      }
#pragma unroll
      for (int jj = 0; jj < kChunk; ++jj) {
        const int64_t j = st.j0 + jc + jj;
        const int64_t j_stored = transposed ? g.k - 1 - j : j;  // in the dynamic weight's layout
        A tap[Vec];
        if constexpr (!dynamic)
#pragma unroll
          for (int v = 0; v < Vec; ++v) tap[v] = taps[(jc + jj) * TileC + v];
#pragma unroll
        for (int r = 0; r < Rows; ++r) {
          if constexpr (dynamic) {
            const T* row = transposed ? tap_rows[r + jj] : own_rows[r];
#pragma unroll
            for (int v = 0; v < Vec; ++v)
              tap[v] = row && j < g.k && head_tap[v] >= 0 ? to_acc(row[head_tap[v] + j_stored]) : A(0);
          }
#pragma unroll
          for (int v = 0; v < Vec; ++v) acc[r][v] += tap[v] * win[r + jj][v];
        }
      }
    }

    if (st.j0 + kPass >= g.k) {  // the tile's last pass: write it out
      const bool whole = aligned && cl + Vec <= st.width;  // all Vec channels exist and make one aligned store
      T* o = out + (st.tile.b * g.T + g.time(st.tile.phase, m_first)) * g.C + st.c0 + cl;
      const int64_t row_step = g.dilation * g.C;
#pragma unroll
      for (int r = 0; r < Rows; ++r, o += row_step) {
        if (m_first + r >= st.tile.length) break;
        Pack<T, Vec> p;
#pragma unroll
        for (int v = 0; v < Vec; ++v) p.v[v] = from_acc<T>(acc[r][v]);
        if (whole)
          *reinterpret_cast<Pack<T, Vec>*>(o) = p;
        else
          for (int v = 0; v < Vec && cl + v < st.width; ++v) o[v] = p.v[v];
      }
    }
    if (s + ahead < stages) store_taps(s + ahead);
    __syncthreads();  // stage s's buffer is free for stage s + Stages
  }
}

// The tensor-core conv (forward and input gradient; static taps in bf16 or fp16, float sums). Per channel, a conv
// is a product of a banded matrix of taps with the sequence: for outputs y[base + r], r < 16,
//   y[base + r] = sum over s, i < 16 of A_s[r][i] * x[base + 16 s + i],   A_s[r][i] = w[16 s + i - r]
// (x indexed from the window's first step, w zero outside [0, k)). Laying 8 such blocks of 16 steps side by side as
// the columns n of B_s[i][n] = x[16 n + 16 s + i] makes it mma.m16n8k16: D = sum_s A_s B_s, one 16 x 8 x 16 product
// per step s of the ceil((k + 15) / 16) k-steps, with A_s shared by every block of the channel. 128 outputs of a
// channel thus cost one tensor-core instruction per k-step where the multiply-add kernel issues 128 k / 32 fp32
// multiply-adds (the products with the band's zeros come free: the kernel is memory-bound either way).
//
// A block keeps one channel tile (8 channels per warp) and walks row tiles of kMmaTileM steps, double-buffered with
// cp.async as the multiply-add kernel. A lane's B words pair two consecutive steps of one channel, so it reads
// 16-byte rows (8 channels) and pairs their halves; rows are kMmaStride elements apart (one bank group further per
// row), and lanes of odd groups read each pair of rows the other way round, so a quarter-warp's reads hit 8
// different bank groups. Its A words are two consecutive taps at an offset that depends on the lane, read from two
// copies of the channel's zero-padded taps (word boundaries at even and at odd taps), staged once per block. The
// lane's D values are 4 steps of the channel; with all 8 channels in hand it stores 16 bytes per step.
constexpr int kMmaTileC = 64;                // channels per tile: 8 per warp
constexpr int kMmaTileM = 256;               // steps per row tile: two column groups of 8 blocks of 16
constexpr int kMmaStride = kMmaTileC + 8;    // elements between shared-memory rows
constexpr int kMmaMaxTaps = 65;              // at most 5 k-steps; longer windows take the multiply-add kernel
// Words between copies of the taps: as many as the largest k needs, so the kernel's tap offsets are constants.
constexpr int kMmaStrip = 8 * ((kMmaMaxTaps + 30) / 16) + 8;
static_assert(kThreads == 32 * kMmaTileC / 8 && kMmaTileM % 128 == 0);

struct MmaLayout {
  int k_steps;
  __host__ __device__ explicit MmaLayout(int64_t k) : k_steps(int((k + 30) / 16)) {}
  __host__ __device__ int rows() const { return kMmaTileM + 16 * (k_steps - 1); }  // input rows of a row tile
  __host__ __device__ int taps_words() const { return 8 * k_steps + 8; }  // in a copy of a channel's padded taps
  __host__ __device__ size_t taps_bytes() const { return size_t(kMmaTileC) * 2 * kMmaStrip * sizeof(uint32_t); }
  __host__ __device__ size_t stage_bytes() const { return align16(size_t(rows()) * kMmaStride * 2); }
  __host__ __device__ size_t shared_bytes() const { return taps_bytes() + 2 * stage_bytes(); }
};

// Two 16-bit values as one word, `low` in the low half.
__device__ __forceinline__ uint32_t bits_of(__nv_bfloat16 v) { return __bfloat16_as_ushort(v); }
__device__ __forceinline__ uint32_t bits_of(__half v) { return __half_as_ushort(v); }
template <typename T>
__device__ __forceinline__ uint32_t word_of(T low, T high) {
  return bits_of(low) | bits_of(high) << 16;
}
// The low (high) halves of a and b as one word, a's in the low half: one PRMT.
__device__ __forceinline__ uint32_t low_halves(uint32_t a, uint32_t b) { return byte_perm(a, b, 0x5410); }
__device__ __forceinline__ uint32_t high_halves(uint32_t a, uint32_t b) { return byte_perm(a, b, 0x7632); }

template <typename T, bool transposed>
__global__ void __launch_bounds__(kThreads)
    mma_conv_kernel(Geometry g, const T* __restrict__ in, const T* __restrict__ w, T* __restrict__ out) {
  static_assert(sizeof(T) == 2);
  using Row = Pack<uint32_t, 4>;  // 8 channels of one step
  const MmaLayout layout(g.k);
  const int rows = layout.rows();
  constexpr int strip = kMmaStrip;
  unsigned char* shared = dynamic_shared_memory();
  uint32_t* taps_s = reinterpret_cast<uint32_t*>(shared);  // [kMmaTileC][2][kMmaStrip], taps_words() used
  const auto input_s = [&](uint32_t s) {
    return reinterpret_cast<T*>(shared + layout.taps_bytes() + s % 2 * layout.stage_bytes());
  };
  const int64_t c0 = int64_t(blockIdx.y) * kMmaTileC;
  const int width = int(smaller(kMmaTileC, g.C - c0));

  // Copy p of channel c: word v holds taps 2v + p - 16 and 2v + p - 15 (in the window computed: reversed for the
  // input gradient), zero outside [0, k).
  const auto tap = [&](int c, int64_t j) {
    if (j < 0 || j >= g.k || c >= width) return from_acc<T>(0.0f);
    return w[int64_t(g.by_group.div(uint32_t(c0 + c))) * g.k + (transposed ? g.k - 1 - j : j)];
  };
  const uint32_t stages = (uint32_t(g.row_tiles()) - blockIdx.x + gridDim.x - 1) / gridDim.x;
  const auto fetch = [&](uint32_t s) {
    const Tile tile(g, blockIdx.x + s * gridDim.x);
    load_rows_async<T, kMmaTileC, kMmaStride>(g, in, tile, tile.m0 - g.offset, rows, c0, width, true, input_s(s));
    __pipeline_commit();
  };
  if (stages > 0) fetch(0);  // its copy overlaps the taps' staging
  for (int i = threadIdx.x; i < kMmaTileC * 2 * strip; i += kThreads) {
    const int c = i / (2 * strip), copy = i / strip % 2, v = i % strip;
    const int64_t j = 2 * v + copy - 16;
    if (v < layout.taps_words()) taps_s[i] = word_of(tap(c, j), tap(c, j + 1));
  }

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, group = lane / 4, quad = lane % 4;
  // The lane's A words: for k-step s, A_s[group][2 quad..] is the pair of taps from 16 s + 2 quad - group, which
  // starts a word in the copy of the group's parity; the rows 8 below and the columns 8 right are 4 words off.
  const uint32_t* lane_taps = taps_s + warp * 8 * 2 * strip + group % 2 * strip + (2 * quad - group + 16 - group % 2) / 2;
  // A lane's B rows are 2 quad (mod 8) past a multiple of 8, as are those of the lane with the other parity of
  // `group` in its quarter-warp; lanes of odd groups read the pair of rows the other way round, so the two fall in
  // different banks, and their selectors swap the halves back.
  const int swap = group % 2;
  const uint32_t low_pair = swap ? 0x1054 : 0x5410, high_pair = swap ? 0x3276 : 0x7632;
  for (uint32_t s = 0; s < stages; ++s) {
    if (s + 1 < stages)
      fetch(s + 1);  // into the buffer of stage s - 1, free since its end
    else
      __pipeline_commit();
    __pipeline_wait_prior(1);
    __syncthreads();  // stage s's rows (and, the first time, the taps) are in shared memory

    const Tile tile(g, blockIdx.x + s * gridDim.x);
    const T* x_s = input_s(s) + warp * 8;
    // Both column groups (n0 = 0, 128: 8 blocks of 16 steps each) share each k-step's A words. A group past the
    // tile's end computes on zero rows and stores nothing.
    float d[2][8][4] = {};
    for (int ks = 0; ks < layout.k_steps; ++ks) {
      // B_s[2 quad..][group] and B_s[2 quad + 8..][group] of the 8 channels: steps n0 + 16 group + 16 s + 2 quad
      // + {0, 1, 8, 9}.
      Row x0[2], x1[2], x8[2], x9[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const T* r = x_s + (128 * h + 16 * group + 16 * ks + 2 * quad) * kMmaStride;
        const auto row = [&](int i) { return *reinterpret_cast<const Row*>(r + i * kMmaStride); };
        x0[h] = row(swap), x1[h] = row(1 - swap), x8[h] = row(8 + swap), x9[h] = row(9 - swap);
      }
#pragma unroll
      for (int ch = 0; ch < 8; ++ch) {
        const uint32_t* t = lane_taps + ch * 2 * strip + 8 * ks;
        const uint32_t a[4] = {t[0], t[-4], t[4], t[0]};
        const int v = ch / 2;
        const uint32_t pair = ch % 2 ? high_pair : low_pair;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const uint32_t b[2] = {byte_perm(x0[h].v[v], x1[h].v[v], pair), byte_perm(x8[h].v[v], x9[h].v[v], pair)};
          mma_m16n8k16<T>(d[h][ch], a, b);
        }
      }
    }
    // d[h][ch][e] is D[group + 8 (e / 2)][2 quad + e % 2]: the channel's output at step 128 h + 16 (2 quad + e % 2)
    // + group + 8 (e / 2) of the tile, i.e. 128 h + 8 i steps past the lane's first, 32 quad + group, where
    // i = 2 (e % 2) + e / 2. Walking i keeps the stores' index arithmetic to one add each.
    const int first = 32 * quad + group;
    const int64_t left = tile.length - tile.m0 - first;  // steps of the phase from the lane's first on
    const int64_t eight_steps = 8 * g.dilation * g.C;    // elements between steps 8 apart in the phase
    if (warp * 8 < width)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        int64_t at = (tile.b * g.T + g.time(tile.phase, tile.m0 + first)) * g.C + c0 + warp * 8 + 16 * h * eight_steps;
#pragma unroll
        for (int i = 0; i < 4; ++i, at += eight_steps) {
          const int e = 2 * (i % 2) + i / 2;
          if (128 * h + 8 * i >= left) break;
          const auto word = [&](int v) {
            return word_of(from_acc<T>(d[h][2 * v][e]), from_acc<T>(d[h][2 * v + 1][e]));
          };
          store_16_bytes(out + at, word(0), word(1), word(2), word(3));
        }
      }
    __syncthreads();  // stage s's buffer is free for stage s + 2
  }
}

// The static weight gradient on the tensor cores (bf16 or fp16, float sums), first stage. Per channel,
//   grad_w[j] = sum over steps t of dy[t] * x[t + j]  (x indexed from the window's first step)
// and with t = 16 n + r (block n of a row tile, step r in it) and i = r + j, that is the sum of the diagonal
// i - r = j of G[r][i] = sum_n dy[16 n + r] * x[16 n + i]: a product of a 16 x 16 matrix (r, n) with a 16 x (k + 15)
// one (n, i), the sum running over a row tile's 16 blocks, i.e. mma.m16n8k16 with the blocks as its k dimension. A
// block keeps kMmaGradTileC channels (2 per warp) and sums G over its group's row tiles in registers, double-buffering
// x and dy rows with cp.async; at the end it adds up G's diagonals through shared memory in a fixed order and writes
// the per-channel sums into partial[group][j][c], which sum_partials_kernel reduces as for the multiply-add kernel.
constexpr int kMmaGradTileC = 16;                            // channels per block: 2 per warp
constexpr int kMmaGradStride = 24;                           // elements between shared-memory rows (16-byte rows)
static_assert(kThreads == 32 * kMmaGradTileC / 2);

struct MmaGradLayout {
  int columns;  // column tiles of G: ceil((k + 15) / 8)
  __host__ __device__ constexpr explicit MmaGradLayout(int64_t k) : columns(int((k + 22) / 8)) {}
  __host__ __device__ int x_rows() const { return kMmaTileM - 16 + 8 * columns; }
  __host__ __device__ size_t x_bytes() const { return align16(size_t(x_rows()) * kMmaGradStride * 2); }
  __host__ __device__ size_t stage_bytes() const { return x_bytes() + align16(size_t(kMmaTileM) * kMmaGradStride * 2); }
  // G of a channel: 16 rows of 8 columns per column tile, then 2 words of padding, so the diagonal sums' lanes (one
  // channel each) fall in different banks.
  __host__ __device__ int g_channel_words() const { return 16 * 8 * columns + 2; }
  __host__ __device__ size_t g_bytes() const { return size_t(kMmaGradTileC) * g_channel_words() * sizeof(float); }
  __host__ __device__ size_t shared_bytes() const { return larger(2 * stage_bytes(), g_bytes()); }
};

// MaxColumns: the column tiles the accumulators hold (at least layout.columns), one of a few sizes, so small k keep
// few registers and more blocks fit.
template <typename T, int MaxColumns>
__global__ void __launch_bounds__(kThreads)
    mma_weight_grad_kernel(Geometry g, const T* __restrict__ x, const T* __restrict__ grad_out,
                           float* __restrict__ partial, int64_t tiles_per_group) {
  static_assert(sizeof(T) == 2 && kMmaTileM == 256);  // a row tile is 16 blocks of 16 steps
  const MmaGradLayout layout(g.k);
  unsigned char* shared = dynamic_shared_memory();
  const auto x_s = [&](uint32_t s) { return reinterpret_cast<T*>(shared + s % 2 * layout.stage_bytes()); };
  const auto dy_s = [&](uint32_t s) {
    return reinterpret_cast<T*>(shared + s % 2 * layout.stage_bytes() + layout.x_bytes());
  };
  const int64_t group = blockIdx.x, c0 = int64_t(blockIdx.y) * kMmaGradTileC;
  const int64_t first = group * tiles_per_group;
  const uint32_t stages = uint32_t(larger(0, smaller(first + tiles_per_group, g.row_tiles()) - first));
  const int width = int(smaller(kMmaGradTileC, g.C - c0));
  const auto fetch = [&](uint32_t s) {
    const Tile tile(g, uint32_t(first + s));
    load_rows_async<T, kMmaGradTileC, kMmaGradStride>(g, x, tile, tile.m0 - g.offset, layout.x_rows(), c0, width,
                                                      true, x_s(s));
    load_rows_async<T, kMmaGradTileC, kMmaGradStride>(g, grad_out, tile, tile.m0, kMmaTileM, c0, width, true,
                                                      dy_s(s));
    __pipeline_commit();
  };
  if (stages > 0) fetch(0);

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, group_id = lane / 4, quad = lane % 4;
  // A fragment rows: A[r][n] = dy[16 n + r] for r = group_id (+ 8), n = 2 quad (+ 1, + 8, + 9); B rows: the same
  // blocks of x, 8 columns further per column tile. Each word holds the warp's two channels.
  const int row0 = 32 * quad + group_id;
  float d[2][MaxColumns][4] = {};
  for (uint32_t s = 0; s < stages; ++s) {
    if (s + 1 < stages)
      fetch(s + 1);
    else
      __pipeline_commit();
    __pipeline_wait_prior(1);
    __syncthreads();  // stage s's rows are in shared memory

    const uint32_t* dy_words = reinterpret_cast<const uint32_t*>(dy_s(s)) + warp;
    const uint32_t* x_words = reinterpret_cast<const uint32_t*>(x_s(s)) + warp;
    constexpr int row_words = kMmaGradStride / 2;
    const auto dy_at = [&](int row) { return dy_words[row * row_words]; };
    const auto x_at = [&](int row) { return x_words[row * row_words]; };
    uint32_t a[2][4];
#pragma unroll
    for (int half = 0; half < 4; ++half) {  // a[.][half]: rows + 8 (half odd), blocks + 8 (half >= 2)
      const int row = row0 + 8 * (half % 2) + 128 * (half / 2);
      const uint32_t lo = dy_at(row), hi = dy_at(row + 16);
      a[0][half] = low_halves(lo, hi);
      a[1][half] = high_halves(lo, hi);
    }
#pragma unroll
    for (int ct = 0; ct < MaxColumns; ++ct) {
      if (ct >= layout.columns) break;  // the same for every thread
      const int row = row0 + 8 * ct;
      const uint32_t x0 = x_at(row), x1 = x_at(row + 16), x8 = x_at(row + 128), x9 = x_at(row + 144);
      const uint32_t b0[2] = {low_halves(x0, x1), low_halves(x8, x9)};
      const uint32_t b1[2] = {high_halves(x0, x1), high_halves(x8, x9)};
      mma_m16n8k16<T>(d[0][ct], a[0], b0);
      mma_m16n8k16<T>(d[1][ct], a[1], b1);
    }
    __syncthreads();  // stage s's buffer is free for stage s + 2
  }

  // G of each channel into shared memory ([channel][r][i], the stage buffers no longer needed), then its
  // diagonals: partial[group][j][c] = sum over r of G[r][r + j], in r order.
  float* g_s = reinterpret_cast<float*>(shared);
  const int g_columns = 8 * layout.columns, g_channel = layout.g_channel_words();
#pragma unroll
  for (int ch = 0; ch < 2; ++ch)
#pragma unroll
    for (int ct = 0; ct < MaxColumns; ++ct) {
      if (ct >= layout.columns) break;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = group_id + 8 * (e / 2), i = 8 * ct + 2 * quad + e % 2;
        g_s[(2 * warp + ch) * g_channel + r * g_columns + i] = d[ch][ct][e];
      }
    }
  __syncthreads();
  for (int o = threadIdx.x; o < g.k * kMmaGradTileC; o += kThreads) {
    const int c = o % kMmaGradTileC, j = o / kMmaGradTileC;
    if (c >= width) continue;
    float sum = 0;
    for (int r = 0; r < 16; ++r) sum += g_s[c * g_channel + r * g_columns + r + j];
    partial[(group * g.k + j) * g.C + c0 + c] = sum;
  }
}

// The static weight gradient's shared memory: an input tile with a pass's halo, and a pass's sums per channel.
size_t weight_grad_shared_bytes(size_t acc_size, int pass) { return acc_size * kTileC * ((kTileM + pass - 1) + pass); }

// Static taps, first stage: block (group, channel tile) sums grad_out[t, c] * x[t + (j - P) * dilation, c] over its
// row tiles into partial[group][j][c]. Each thread accumulates Pass taps of its channels in registers over all
// its rows; the kThreadsM threads of a channel are then added in a fixed order. Pass (a multiple of kChunk, at most
// kPass) is the smallest that holds k, or kPass: small k then keeps few accumulators, so more blocks fit.
template <typename T, int Pass>
__global__ void __launch_bounds__(kThreads)
    static_weight_grad_kernel(Geometry g, const T* __restrict__ x, const T* __restrict__ grad_out,
                              acc_t<T>* __restrict__ partial, int64_t tiles_per_group, bool aligned) {
  using A = acc_t<T>;
  unsigned char* shared = dynamic_shared_memory();
  A* in_s = reinterpret_cast<A*>(shared);         // [kTileM + Pass - 1][kTileC]
  A* sum_s = in_s + (kTileM + Pass - 1) * kTileC;  // [Pass][kTileC]

  const int64_t group = blockIdx.x, c0 = int64_t(blockIdx.y) * kTileC;
  const int64_t first = group * tiles_per_group, last = smaller(first + tiles_per_group, g.row_tiles());
  const int width = int(smaller(kTileC, g.C - c0));
  const int tx = threadIdx.x % kThreadsC, ty = threadIdx.x / kThreadsC;
  const int cl = tx * kVec;
  static_assert(Pass % kChunk == 0 && Pass <= kPass);

  for (int64_t j0 = 0; j0 < g.k; j0 += Pass) {
    const int taps = int(smaller(Pass, g.k - j0));
    const int padded = (taps + kChunk - 1) / kChunk * kChunk;
    A part[Pass][kVec] = {};
    for (int64_t index = first; index < last; ++index) {
      const Tile tile(g, index);
      if (tile.m0 >= tile.length) continue;
      const int64_t m_first = tile.m0 + ty * kRows;
      A go[kRows][kVec];
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int v = 0; v < kVec; ++v)
          go[r][v] = m_first + r < tile.length && cl + v < width
                         ? to_acc(grad_out[(tile.b * g.T + g.time(tile.phase, m_first + r)) * g.C + c0 + cl + v])
                         : A(0);
      __syncthreads();
      load_tile(g, x, tile, tile.m0 + j0 - g.offset, kTileM + padded - 1, c0, width, aligned, in_s, kTileC);
      __syncthreads();
      const A* rows = in_s + ty * kRows * kTileC + cl;
      A win[kRows + kChunk - 1][kVec];
#pragma unroll
      for (int chunk = 0; chunk < Pass / kChunk; ++chunk) {
        const int jc = chunk * kChunk;
        if (jc >= padded) break;
#pragma unroll
        for (int i = 0; i < kRows + kChunk - 1; ++i)
#pragma unroll
          for (int v = 0; v < kVec; ++v)
            win[i][v] = chunk > 0 && i < kRows - 1 ? win[i + kChunk][v] : rows[(jc + i) * kTileC + v];
#pragma unroll
        for (int jj = 0; jj < kChunk; ++jj)
#pragma unroll
          for (int r = 0; r < kRows; ++r)
#pragma unroll
            for (int v = 0; v < kVec; ++v) part[jc + jj][v] += go[r][v] * win[r + jj][v];
      }
    }
    __syncthreads();  // sum_s is free (the previous pass wrote it out)
    for (int y = 0; y < kThreadsM; ++y) {
      if (ty == y)
#pragma unroll
        for (int jr = 0; jr < Pass; ++jr)
#pragma unroll
          for (int v = 0; v < kVec; ++v) sum_s[jr * kTileC + cl + v] = (y > 0 ? sum_s[jr * kTileC + cl + v] : A(0)) + part[jr][v];
      __syncthreads();
    }
    for (int i = threadIdx.x; i < taps * kTileC; i += kThreads) {
      const int jr = i / kTileC, c = i % kTileC;
      if (c < width) partial[(group * g.k + j0 + jr) * g.C + c0 + c] = sum_s[i];
    }
  }
}

// Static taps, second stage: grad_w[h, j] = the sum of partial[group][j][c] over groups and head h's channels, by
// one block per (h, j) in a fixed order.
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    sum_partials_kernel(Geometry g, int64_t groups, const acc_t<T>* __restrict__ partial, T* __restrict__ grad_w) {
  using A = acc_t<T>;
  __shared__ A sums[kReduceThreads];
  const int64_t h = blockIdx.x / g.k, j = blockIdx.x % g.k, G = g.group();
  A s = 0;
  for (int64_t i = threadIdx.x; i < groups * G; i += kReduceThreads)
    s += partial[(i / G * g.k + j) * g.C + h * G + i % G];
  sums[threadIdx.x] = s;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) sums[threadIdx.x] += sums[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) grad_w[blockIdx.x] = from_acc<T>(sums[0]);
}

// The same sums where each (h, j) has few terms (groups x channels per head, e.g. one head per channel): one thread
// per (h, j) adds them up by group, then channel, rather than a block of 128 threads that would mostly idle.
// Adjacent threads take adjacent heads, so their reads of partial are adjacent.
constexpr int64_t kSerialSumTerms = 256;  // at most this many terms per sum take the one-thread kernel

template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    sum_partials_serial_kernel(Geometry g, int64_t groups, const acc_t<T>* __restrict__ partial,
                               T* __restrict__ grad_w) {
  const int64_t o = blockIdx.x * int64_t(kReduceThreads) + threadIdx.x;
  if (o >= g.H * g.k) return;
  const int64_t h = o % g.H, j = o / g.H, G = g.group();
  acc_t<T> s = 0;
  for (int64_t group = 0; group < groups; ++group)
    for (int64_t c = h * G; c < (h + 1) * G; ++c) s += partial[(group * g.k + j) * g.C + c];
  grad_w[h * g.k + j] = from_acc<T>(s);
}

// Dynamic taps: one value per (b, t, h, j), a dot product over head h's channels of grad_out[b, t] and
// x[b, t + (j - P) * dilation]. Block: a row tile x the heads whose channels fit in kTileC (or one head, in
// kTileC-wide slices). Threads take consecutive (step, head, tap) triples, so the writes are contiguous.
constexpr int kStrideDyn = kTileC + 1;  // threads of a warp read one column of different rows: no bank conflicts

size_t dynamic_weight_grad_shared_bytes(size_t acc_size) {
  return acc_size * ((kTileM + kPass - 1) * kStrideDyn + kTileM * kStrideDyn + kTileM * kPass);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    dynamic_weight_grad_kernel(Geometry g, const T* __restrict__ x, const T* __restrict__ grad_out,
                               T* __restrict__ grad_w, bool aligned) {
  using A = acc_t<T>;
  unsigned char* shared = dynamic_shared_memory();
  A* x_s = reinterpret_cast<A*>(shared);                // [kTileM + kPass - 1][kStrideDyn]
  A* g_s = x_s + (kTileM + kPass - 1) * kStrideDyn;     // [kTileM][kStrideDyn]
  A* sum_s = g_s + kTileM * kStrideDyn;                 // [kTileM][kPass]: sums over earlier slices

  const Tile tile(g, blockIdx.x);
  if (tile.m0 >= tile.length) return;
  const int64_t G = g.group();
  const int64_t heads_per_block = larger(1, kTileC / G);
  const int64_t h0 = int64_t(blockIdx.y) * heads_per_block;
  const int heads = int(smaller(heads_per_block, g.H - h0));
  const int64_t span = heads * G;  // channels of the block's heads, from channel h0 * G
  const int slices = int((span + kTileC - 1) / kTileC);  // more than one only for a single head wider than kTileC
  const int steps = int(smaller(kTileM, tile.length - tile.m0));

  for (int64_t j0 = 0; j0 < g.k; j0 += kPass) {
    const int taps = int(smaller(kPass, g.k - j0));
    for (int slice = 0; slice < slices; ++slice) {
      const int64_t c0 = h0 * G + int64_t(slice) * kTileC;
      const int width = int(smaller(kTileC, span - int64_t(slice) * kTileC));
      __syncthreads();
      load_tile(g, x, tile, tile.m0 + j0 - g.offset, kTileM + taps - 1, c0, width, aligned, x_s, kStrideDyn);
      load_tile(g, grad_out, tile, tile.m0, kTileM, c0, width, aligned, g_s, kStrideDyn);
      __syncthreads();
      for (int o = threadIdx.x; o < steps * heads * taps; o += kThreads) {
        const int jr = o % taps, hl = o / taps % heads, mr = o / (taps * heads);
        const int lo = int(larger(0, hl * G - int64_t(slice) * kTileC));
        const int hi = int(smaller(width, (hl + 1) * G - int64_t(slice) * kTileC));
        A s = 0;
        for (int c = lo; c < hi; ++c) s += g_s[mr * kStrideDyn + c] * x_s[(mr + jr) * kStrideDyn + c];
        if (slices > 1) {  // one head, so o -> (mr, jr) is the same thread's in every slice
          A& sum = sum_s[mr * kPass + jr];
          s = sum = (slice > 0 ? sum : A(0)) + s;
        }
        if (slice == slices - 1)
          grad_w[((tile.b * g.T + g.time(tile.phase, tile.m0 + mr)) * g.H + h0 + hl) * g.k + j0 + jr] =
              from_acc<T>(s);
      }
    }
  }
}

// Grids are (row tiles, channel or head tiles); CUDA caps the second dimension at 65535.
dim3 grid(int64_t x, int64_t y) {
  if (x > std::numeric_limits<int>::max() || y > 65535)
    throw std::invalid_argument("depthwise_conv: tensor too large for the CUDA kernels' grid (" + std::to_string(x) +
                                " x " + std::to_string(y) + " blocks)");
  return dim3(unsigned(x), unsigned(y));
}

bool is_aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T>
bool aligned(int64_t C, const void* a, const void* b) {
  return C % kLoadVec<T> == 0 && is_aligned(a) && is_aligned(b);
}

int64_t channel_tiles(const Geometry& g, int64_t tile_c = kTileC) { return (g.C + tile_c - 1) / tile_c; }

// Static weight gradient: how the row tiles are split among blocks. A fixed target (not the device's SM count)
// keeps the summation order, and so the result, the same on every device.
struct Groups {
  int64_t count, tiles_per_group;
};
Groups static_groups(const Geometry& g, int64_t tile_c = kTileC) {
  const int64_t tiles = larger(1, g.row_tiles()), across = channel_tiles(g, tile_c);
  const int64_t wanted = std::clamp<int64_t>((1024 + across - 1) / across, 1, tiles);
  const int64_t per_group = (tiles + wanted - 1) / wanted;
  return {(tiles + per_group - 1) / per_group, per_group};
}

bool empty(const ConvShape& s) { return s.B == 0 || s.T == 0 || s.C == 0; }

// The refusal of a launch whose block needs more shared memory than the device allows one.
inline std::invalid_argument shared_memory_refusal(const char* what, size_t shared_bytes, size_t limit) {
  return std::invalid_argument(std::string("depthwise_conv CUDA ") + what + ": a block needs " +
                               std::to_string(shared_bytes) + " bytes of shared memory, more than the device has (" +
                               std::to_string(limit) + " per block)");
}

// The conv kernel's grid: as many blocks as fit on the device at once (each walks its own list of tiles), at most
// one per tile. The split changes only which block computes an output, never the order of its sums.
template <typename Launcher, typename Kernel>
unsigned persistent_blocks(const Launcher& launch, Kernel kernel, size_t shared_bytes, int64_t tiles,
                           const char* what) {
  const int64_t resident = launch.resident_blocks(kernel, kThreads, shared_bytes, what);
  if (resident == 0) throw shared_memory_refusal(what, shared_bytes, launch.shared_limit());
  return unsigned(smaller(tiles, resident));
}

template <typename T, bool dynamic, bool transposed, typename Tiling, typename Launcher>
void launch_conv(const Launcher& launch, const Geometry& g, const T* in, const T* w, T* out, bool aligned) {
  const auto kernel = conv_kernel<T, dynamic, transposed, Tiling>;
  const char* what = transposed ? "input gradient" : "forward";
  ConvWork work = conv_work<Tiling>(g);
  const size_t shared = Tiling::Stages * conv_stage_bytes<T, Tiling>(work.pass_taps, dynamic);
  unsigned blocks = persistent_blocks(launch, kernel, shared, work.tiles, what);
  // A grid that is a multiple of the channel tiles keeps every block on one channel tile, so its static taps can
  // stay; worth rounding the grid down for only while that keeps nearly all of it.
  const uint32_t channel_tiles = work.channel_tiles.divisor;
  const unsigned rounded = blocks - blocks % channel_tiles;
  if (!dynamic && Tiling::Stages % work.passes.divisor == 0 && rounded > 0 && rounded * 10 >= blocks * 9) {
    blocks = rounded;
    work.keep_taps = true;
  }
  launch(what, kernel, dim3(blocks), kThreads, shared, g, work, in, w, out, aligned);
}

// Tags for conv's Tiling: the multiply-add kernel with its default tiles (ConvTile), and the tensor-core kernel.
struct FmaTiling {};
struct MmaTiling {};

// The multiply-add kernel's dispatch (see conv).
template <typename T, typename Tiling, typename Launcher>
void conv_fma(const Launcher& launch, const ConvShape& s, const void* in, const void* w, void* out, bool transposed,
              bool al) {
  constexpr bool defaults = std::is_void_v<Tiling> || std::is_same_v<Tiling, FmaTiling>;
  using Static = std::conditional_t<defaults, ConvTile<T, false>, Tiling>;
  using Dynamic = std::conditional_t<defaults, ConvTile<T, true>, Tiling>;
  const Geometry g = geometry(s, transposed, s.dynamic ? Dynamic::TileM : Static::TileM);
  const T* in_t = static_cast<const T*>(in);
  const T* w_t = static_cast<const T*>(w);
  T* out_t = static_cast<T*>(out);
  if (s.dynamic && transposed)
    launch_conv<T, true, true, Dynamic>(launch, g, in_t, w_t, out_t, al);
  else if (s.dynamic)
    launch_conv<T, true, false, Dynamic>(launch, g, in_t, w_t, out_t, al);
  else if (transposed)
    launch_conv<T, false, true, Static>(launch, g, in_t, w_t, out_t, al);
  else
    launch_conv<T, false, false, Static>(launch, g, in_t, w_t, out_t, al);
}

template <typename T, bool transposed, typename Launcher>
void launch_mma_conv(const Launcher& launch, const Geometry& g, const T* in, const T* w, T* out) {
  static_assert(kMmaTileM == 256, "mma_conv_kernel computes a row tile as two column groups of 128 steps");
  if (g.tile_m != kMmaTileM) throw std::logic_error("depthwise_conv: tensor-core kernel given a geometry of other tiles");
  const auto kernel = mma_conv_kernel<T, transposed>;
  const char* what = transposed ? "input gradient (tensor cores)" : "forward (tensor cores)";
  const size_t shared = MmaLayout(g.k).shared_bytes();
  const int64_t channel_tiles = (g.C + kMmaTileC - 1) / kMmaTileC;
  // Each block keeps one channel tile: the resident blocks are shared out among the channel tiles.
  const unsigned blocks = persistent_blocks(launch, kernel, shared, g.row_tiles() * channel_tiles, what);
  launch(what, kernel, grid(larger(1, blocks / channel_tiles), channel_tiles), kThreads, shared, g, in, w, out);
}

// The shapes the tensor-core kernels take: static 16-bit taps, k <= kMmaMaxTaps, and channels in whole 16-byte
// groups at 16-byte aligned addresses.
template <typename T>
constexpr bool mma_type = std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>;
template <typename T>
bool mma_takes(const ConvShape& s, bool aligned) {
  return mma_type<T> && !s.dynamic && s.k <= kMmaMaxTaps && aligned;
}
constexpr const char* kMmaRefusal =
    "depthwise_conv: the tensor-core kernels take static bfloat16 or float16 taps, k <= 65, C a multiple of 8 and "
    "16-byte aligned tensors, on a device that allows a block their shared memory";
static_assert(kMmaMaxTaps == 65, "kMmaRefusal names the limit");

// Whether conv() and weight_grad() take the tensor-core kernel whose shared memory Layout gives (MmaLayout,
// MmaGradLayout): where it takes the shape and the device allows a block that much (on the 99 KiB of sm_86/sm_89 the
// conv's does not fit beyond k = 1; the multiply-add kernel's does), unless Tiling names the multiply-add kernel; an
// error where Tiling names the tensor-core ones (MmaTiling) and they cannot run.
template <typename T, typename Tiling, typename Layout, typename Launcher>
bool use_tensor_cores(const Launcher& launch, const ConvShape& s, bool aligned) {
  const bool takes = mma_takes<T>(s, aligned) && Layout(s.k).shared_bytes() <= launch.shared_limit();
  if (std::is_same_v<Tiling, MmaTiling> && !takes) throw std::invalid_argument(kMmaRefusal);
  return takes && (std::is_void_v<Tiling> || std::is_same_v<Tiling, MmaTiling>);
}

// out = the conv of `in` (transposed: the input gradient). Tiling void: the tensor-core kernel where it takes the
// shape, else the multiply-add kernel with ConvTile. A benchmark or test may name one: MmaTiling (an error where it
// does not take the shape), FmaTiling, or a ConvTiling.
template <typename T, typename Tiling = void, typename Launcher>
void conv(const Launcher& launch, const ConvShape& s, const void* in, const void* w, void* out, bool transposed) {
  if (empty(s)) return;
  const bool al = aligned<T>(s.C, in, out);
  const bool tensor_cores = use_tensor_cores<T, Tiling, MmaLayout>(launch, s, al);
  if constexpr (mma_type<T>) {
    if (tensor_cores) {
      const Geometry g = geometry(s, transposed, kMmaTileM);
      const T* in_t = static_cast<const T*>(in);
      const T* w_t = static_cast<const T*>(w);
      T* out_t = static_cast<T*>(out);
      if (transposed)
        launch_mma_conv<T, true>(launch, g, in_t, w_t, out_t);
      else
        launch_mma_conv<T, false>(launch, g, in_t, w_t, out_t);
      return;
    }
  }
  if constexpr (!std::is_same_v<Tiling, MmaTiling>) conv_fma<T, Tiling>(launch, s, in, w, out, transposed, al);
}

// The tensor-core weight gradient's geometry (row tiles of kMmaTileM steps) and grouping.
struct MmaGradPlan {
  Geometry g;
  Groups groups;
  explicit MmaGradPlan(const ConvShape& s)
      : g(geometry(s, false, kMmaTileM)), groups(static_groups(g, kMmaGradTileC)) {}
};

template <typename T>
size_t weight_grad_workspace(const ConvShape& s) {
  if (s.dynamic || empty(s)) return 0;
  const Geometry g = geometry(s, false);
  int64_t groups = static_groups(g).count;
  // The tensors' alignment is not known yet, so room for either kernel's partial sums.
  if (mma_takes<T>(s, /*aligned=*/true)) groups = larger(groups, MmaGradPlan(s).groups.count);
  return size_t(groups * g.k * g.C) * sizeof(acc_t<T>);
}

// The static weight gradient's first stage, per-group partial sums into `partial`; returns the number of groups.
template <typename T, typename Launcher>
int64_t mma_weight_grad_first_stage(const Launcher& launch, const ConvShape& s, const T* x, const T* grad_out,
                                    acc_t<T>* partial) {
  if constexpr (mma_type<T>) {
    const MmaGradPlan plan(s);
    const auto first_stage = [&](auto max_columns) {
      launch("weight gradient (tensor cores)", mma_weight_grad_kernel<T, max_columns()>,
             grid(plan.groups.count, channel_tiles(plan.g, kMmaGradTileC)), kThreads,
             MmaGradLayout(s.k).shared_bytes(), plan.g, x, grad_out, partial, plan.groups.tiles_per_group);
    };
    using std::integral_constant;
    const int columns = MmaGradLayout(s.k).columns;
    if (columns <= 3)
      first_stage(integral_constant<int, 3>{});
    else if (columns <= 6)
      first_stage(integral_constant<int, 6>{});
    else
      first_stage(integral_constant<int, MmaGradLayout(kMmaMaxTaps).columns>{});
    return plan.groups.count;
  } else {
    throw std::logic_error("depthwise_conv: tensor-core weight gradient asked for a type it does not take");
  }
}

template <typename T, typename Launcher>
int64_t fma_weight_grad_first_stage(const Launcher& launch, const Geometry& g, const T* x, const T* grad_out,
                                    acc_t<T>* partial, bool aligned) {
  const Groups groups = static_groups(g);
  const auto first_stage = [&](auto pass) {
    launch("weight gradient", static_weight_grad_kernel<T, pass()>, grid(groups.count, channel_tiles(g)), kThreads,
           weight_grad_shared_bytes(sizeof(acc_t<T>), pass()), g, x, grad_out, partial, groups.tiles_per_group,
           aligned);
  };
  using std::integral_constant;
  if (g.k <= 4)
    first_stage(integral_constant<int, 4>{});
  else if (g.k <= 8)
    first_stage(integral_constant<int, 8>{});
  else if (g.k <= 16)
    first_stage(integral_constant<int, 16>{});
  else
    first_stage(integral_constant<int, kPass>{});
  return groups.count;
}

// grad_w (see depthwise_conv_kernels.h). Tiling: as conv's (for static taps: the tensor-core first stage where it
// takes the shape, else the multiply-add one).
template <typename T, typename Tiling = void, typename Launcher>
void weight_grad(const Launcher& launch, const ConvShape& s, const void* x, const void* grad_out, void* grad_w,
                 void* workspace) {
  if (empty(s)) {  // no products: static taps get zero gradients, dynamic ones have no elements
    if (!s.dynamic) launch.zero(grad_w, s.H * s.k * sizeof(T), "weight gradient (zero fill)");
    return;
  }
  const Geometry g = geometry(s, false);
  const T* x_t = static_cast<const T*>(x);
  const T* go_t = static_cast<const T*>(grad_out);
  T* gw_t = static_cast<T*>(grad_w);
  const bool al = aligned<T>(g.C, x, grad_out);
  const bool tensor_cores = use_tensor_cores<T, Tiling, MmaGradLayout>(launch, s, al);
  if (s.dynamic) {
    const int64_t heads_per_block = larger(1, kTileC / g.group());
    launch("dynamic weight gradient", dynamic_weight_grad_kernel<T>,
           grid(g.row_tiles(), (g.H + heads_per_block - 1) / heads_per_block), kThreads,
           dynamic_weight_grad_shared_bytes(sizeof(acc_t<T>)), g, x_t, go_t, gw_t, al);
    return;
  }
  auto* partial = static_cast<acc_t<T>*>(workspace);
  const int64_t groups = tensor_cores ? mma_weight_grad_first_stage<T>(launch, s, x_t, go_t, partial)
                                      : fma_weight_grad_first_stage<T>(launch, g, x_t, go_t, partial, al);
  if (groups * g.group() <= kSerialSumTerms)
    launch("weight gradient (sum)", sum_partials_serial_kernel<T>,
           grid((g.H * g.k + kReduceThreads - 1) / kReduceThreads, 1), kReduceThreads, 0, g, groups,
           static_cast<const acc_t<T>*>(partial), gw_t);
  else
    launch("weight gradient (sum)", sum_partials_kernel<T>, grid(g.H * g.k, 1), kReduceThreads, 0, g, groups,
           static_cast<const acc_t<T>*>(partial), gw_t);
}

// Calls f(T{}) with T the element type of dtype.
template <typename F>
auto dispatch(DType dtype, const F& f) {
  switch (dtype) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    case DType::bfloat16: return f(__nv_bfloat16{});
    case DType::float16: return f(__half{});
  }
  throw std::invalid_argument("depthwise_conv: unknown CUDA dtype");
}

}  // namespace
}  // namespace convpt::cuda
