#!/usr/bin/env python3
"""CPU baseline of the pinned LibTorch (the same libtorch_cpu.so that convpt links).

Measures a square matmul in fp32 and bf16 at 1..N threads, and a small allocation-heavy
training loop, so the allocator/thread choices in scripts/setup.sh and CMakeLists.txt can be
re-checked on any machine. Usage: python scripts/cpu_baseline.py [--n 2048] [--reps 5]
Run it under LD_PRELOAD=libjemalloc.so.2 to compare allocators.
"""
import argparse, os, statistics, time
import torch

def gemm_gflops(n, dtype, reps):
    a = torch.randn(n, n).to(dtype); b = torch.randn(n, n).to(dtype)
    torch.mm(a, b)  # warm-up (packs, thread pool start)
    times = []
    for _ in range(reps):
        t = time.perf_counter(); torch.mm(a, b); times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9

def train_loop_ms(steps=20, batch=16, seq=256, d=512):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d, 8, 4 * d, batch_first=True, dropout=0.0)
    opt = torch.optim.AdamW(layer.parameters(), 1e-4)
    x = torch.randn(batch, seq, d)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        loss = layer(x).square().mean(); opt.zero_grad(); loss.backward(); opt.step()
        if i >= 3: times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3

if __name__ == "__main__":
    ap = argparse.ArgumentParser(); ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=5); args = ap.parse_args()
    print(f"torch {torch.__version__}  LD_PRELOAD={os.environ.get('LD_PRELOAD', '')}")
    for threads in range(1, os.cpu_count() + 1):
        torch.set_num_threads(threads)
        f32 = gemm_gflops(args.n, torch.float32, args.reps)
        bf16 = gemm_gflops(args.n, torch.bfloat16, args.reps)
        print(f"threads={threads}  matmul {args.n}^3  fp32 {f32:7.1f} GFLOP/s  bf16 {bf16:7.1f} GFLOP/s  "
              f"train-step(enc layer d=512,T=256,B=16) {train_loop_ms():7.1f} ms")
