#!/usr/bin/env bash
# The GPU check, for a fresh machine with an NVIDIA GPU, the CUDA 13 toolkit, a Python whose torch has CUDA (and
# its C++ headers), CMake and ninja, and no network: unpacks the Debian packages that scripts/fetch_gpu_debs.sh
# fetched beforehand into a private prefix, builds convpt with its CUDA kernels (only `convpt`, the CUDA test
# binary and the kernel's tiling benchmark), runs the `cuda` tests, the tiling benchmark (each tiling checked against
# a reference, then the bare forward kernel timed), the operator benchmark (B=8, T=4096, d=1024, k 3/7/31, bf16),
# an operator-level sequence-length curve and the models' training-step curve (experiments/bench/gpu.yaml, input
# length 512..16384), optionally an Nsight Compute profile of the production kernels, and writes logs and results
# into OUT_DIR. About 6 minutes on an H200 machine (16 cores): unpack and configure 18 s, build 64 s, tests 37 s,
# model curve 3.8 min (results/gpu/README.md, before the tiling benchmark joined the script: its build and run add
# about a minute).
#
# Usage: scripts/gpu_check.sh OUT_DIR [DEB_DIR (default .gpu-debs)]
# Environment: CONVPT_TORCH_PYTHON (default: python3 on PATH), JOBS (default: all cores), CONVPT_GPU_PROFILE=1 (the
# ncu profile).
# Exit status: 0 when the build, every CUDA test and the tiling benchmark's correctness checks pass (timings are
# reported, never judged).
set -euo pipefail
out=$(mkdir -p "${1:?usage: scripts/gpu_check.sh OUT_DIR [DEB_DIR]}" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
debs=$(cd "${2:-.gpu-debs}" && pwd)
python=${CONVPT_TORCH_PYTHON:-$(command -v python3)}
jobs=${JOBS:-$(nproc)}
build=build-gpu-check
prefix=$PWD/$build/deps
summary=$out/summary.txt
: > "$summary"
step() { echo "== $(date +%T) (+${SECONDS}s) $*" | tee -a "$summary"; }

step "environment"
{
  nvidia-smi || true
  command -v nvcc && nvcc --version || /usr/local/cuda/bin/nvcc --version || true
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  cmake --version | head -1
  echo "ninja $(ninja --version)"
  git log -1 --oneline 2>/dev/null
} > "$out/environment.txt" 2>&1 || true
cat "$out/environment.txt" >> "$summary"

step "unpacking $(ls "$debs"/*.deb | wc -l) Debian packages into $prefix"
rm -rf "$prefix" && mkdir -p "$prefix"
for deb in "$debs"/*.deb; do
  if command -v dpkg > /dev/null; then
    dpkg -x "$deb" "$prefix"
  else  # a .deb is an ar archive holding data.tar.*
    (tmp=$(mktemp -d) && cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$prefix" && rm -rf "$tmp")
  fi
done
# Absolute symlinks (libz.so -> /lib/...) must point into the prefix, not at the machine's own files.
find "$prefix" -type l -lname '/*' | while read -r link; do ln -sfn "$prefix$(readlink "$link")" "$link"; done
libdirs="$prefix/usr/lib/x86_64-linux-gnu:$prefix/lib/x86_64-linux-gnu"
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# pkg-config (for SentencePiece) from the prefix, reading only the prefix's .pc files, their paths rebased onto it.
export PKG_CONFIG_LIBDIR="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
# The CUDA tests read no datasets; give CMake's data-root lookup a placeholder when the machine has none.
if ! bash scripts/data_root.sh > /dev/null 2>&1; then
  export CONVPT_DATA_ROOT="$PWD/$build/no-data"
  mkdir -p "$CONVPT_DATA_ROOT"
fi

step "configure"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONVPT_CUDA=ON -DCONVPT_TORCH_PYTHON="$python" \
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_PREFIX_PATH="$prefix/usr" -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf" > "$out/configure.log" 2>&1 \
  || { tail -40 "$out/configure.log" | tee -a "$summary"; exit 1; }

step "build (convpt, convpt_cuda_tests, convpt_conv_tiling_bench; $jobs jobs)"
ninja -C "$build" -j "$jobs" convpt convpt_cuda_tests convpt_conv_tiling_bench > "$out/build.log" 2>&1 \
  || { grep -B2 -A20 -m3 'error' "$out/build.log" | tee -a "$summary"; exit 1; }

step "ctest -L cuda"
tests_rc=0
ctest --test-dir "$build" -L cuda --no-tests=error --output-on-failure --timeout 600 \
  --output-junit "$out/ctest_cuda.xml" > "$out/ctest_cuda.log" 2>&1 || tests_rc=$?
grep -E "tests passed|Skipped|Failed|\*\*\*" "$out/ctest_cuda.log" | tee -a "$summary" || true

step "kernel tiling benchmark: B=8, T=4096, d=1024, H=16, bf16, k 3/7/31, kernel alone (CUDA events)"
timeout 180 "$build/cuda/convpt_conv_tiling_bench" > "$out/conv_tiling_bench.txt" 2>&1 || tests_rc=$?
cat "$out/conv_tiling_bench.txt" >> "$summary"

# With CONVPT_GPU_PROFILE=1, Nsight Compute's view of the production kernels (forward, input gradient, weight
# gradient at k 3/7/31): what bounds each one. Off by default: it adds about a minute.
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
if [ "${CONVPT_GPU_PROFILE:-0}" = 1 ]; then
  [ -n "$ncu" ] || { echo "CONVPT_GPU_PROFILE=1 but no ncu on this machine" | tee -a "$summary"; exit 1; }
  step "ncu profile of the production kernels"
  timeout 150 "$ncu" --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats \
    --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats \
    -k regex:'conv_kernel|weight_grad_kernel' "$build/cuda/convpt_conv_tiling_bench" profile \
    > "$out/ncu.txt" 2>&1 || echo "ncu failed: rc $?" | tee -a "$summary"
  grep -E "^  [a-z_]|Duration|DRAM Throughput|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Issued Warp" \
    "$out/ncu.txt" >> "$summary" || true
fi

convpt=$build/apps/convpt
[ -x "$convpt" ] || convpt=$(find "$build" -name convpt -type f -perm -u+x | head -1)
step "convpt bench --ops: B=8, T=4096, d=1024, k 3/7/31, bf16"
timeout 300 "$convpt" --device cuda bench --ops --dtype bf16 --batch 8 --channels 1024 --heads 16 --lengths 4096 \
  --kernel-sizes 3,7,31 --csv "$out/bench_ops_bf16.csv" > "$out/bench_ops_bf16.txt" 2>&1 \
  || echo "bench --ops failed: rc $?" | tee -a "$summary"
cat "$out/bench_ops_bf16.txt" >> "$summary"

step "sequence-length curve (op level): B=8, d=768, k=7, bf16, T 512..16384"
timeout 300 "$convpt" --device cuda bench --ops --dtype bf16 --batch 8 --channels 768 \
  --lengths 512,1024,2048,4096,8192,16384 --kernel-sizes 7 --csv "$out/bench_lengths_bf16.csv" \
  > "$out/bench_lengths_bf16.txt" 2>&1 || echo "length curve failed: rc $?" | tee -a "$summary"
cat "$out/bench_lengths_bf16.txt" >> "$summary"

step "model-level curve: experiments/bench/gpu.yaml (base width, batch 8, bf16), input length 512..16384"
timeout 360 "$convpt" bench --config experiments/bench/gpu.yaml --lengths 512,1024,2048,4096,8192,16384 \
  --repeats 3 --no-plot --out "$out/model_curve" > "$out/bench_models.txt" 2>&1 || echo "model curve failed: rc $?" | tee -a "$summary"
cat "$out/bench_models.txt" >> "$summary"

step "done: cuda tests and tiling checks rc $tests_rc"
exit "$tests_rc"
