#!/usr/bin/env bash
# The GPU check, for a fresh machine with an NVIDIA GPU, the CUDA 13 toolkit, a Python whose torch has CUDA (and
# its C++ headers), CMake and ninja, and no network: unpacks the Debian packages that scripts/fetch_gpu_debs.sh
# fetched beforehand into a private prefix, builds convpt with its CUDA kernels, runs the `cuda` tests, the operator
# benchmark (B=8, T=4096, d=1024, k 3/7/31, bf16), the models' training-step curve (experiments/bench/gpu.yaml,
# input length 512..16384), an operator-level sequence-length curve, and the kernel's tiling benchmark (each tiling
# checked against a reference, then the bare forward kernel timed), optionally an Nsight Compute profile, in that
# order (most needed first).
#
# It keeps to a time budget (CONVPT_GPU_BUDGET seconds, default 540, under the 10 minutes a lent machine runs one
# command): each step's timeout is cut to what is left, and a step that no longer fits is skipped and says so. Logs
# and results are written to a staging folder and packed after every step into OUT_DIR/results.tar.gz beside
# OUT_DIR/summary.txt, so OUT_DIR holds two files (tools that fetch few files get everything) and a run cut short
# still leaves what it measured. About 7 minutes on an H200 machine (16 cores): see results/gpu/README.md.
#
# Before (here, with network): scripts/fetch_gpu_debs.sh, then carry .gpu-debs/ to the GPU machine.
# Usage: scripts/gpu_check.sh OUT_DIR [DEB_DIR (default .gpu-debs)]
# Environment: CONVPT_TORCH_PYTHON (default: python3 on PATH), JOBS (default: all cores), CONVPT_GPU_BUDGET,
# CONVPT_GPU_PROFILE=1 (the ncu profile).
# Exit status: 0 when the build, every CUDA test and the tiling benchmark's correctness checks pass (timings are
# reported, never judged); 1 also when a step was skipped for time.
set -euo pipefail
out=$(mkdir -p "${1:?usage: scripts/gpu_check.sh OUT_DIR [DEB_DIR]}" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
deb_dir=${2:-.gpu-debs}
if ! compgen -G "$deb_dir/*.deb" > /dev/null; then
  echo "gpu_check: no .deb files in $deb_dir: run scripts/fetch_gpu_debs.sh where there is network, and carry" \
       "$deb_dir to this machine" | tee "$out/summary.txt" >&2
  exit 1
fi
debs=$(cd "$deb_dir" && pwd)
python=${CONVPT_TORCH_PYTHON:-$(command -v python3)}
jobs=${JOBS:-$(nproc)}
budget=${CONVPT_GPU_BUDGET:-540}
build=build-gpu-check
prefix=$PWD/$build/deps
stage=$PWD/$build/results
rm -rf "$stage" && mkdir -p "$stage"
summary=$stage/summary.txt
: > "$summary"
rc=0
# OUT_DIR gets the summary and every file written so far, packed (text compresses well; a failing test's log can be long).
pack() {
  cp "$summary" "$out/summary.txt"
  tar -czf "$out/results.tar.gz.partial" -C "$stage" . && mv "$out/results.tar.gz.partial" "$out/results.tar.gz"
}
step() { pack; echo "== $(date +%T) (+${SECONDS}s) $*" | tee -a "$summary"; }
trap pack EXIT
# The seconds a step may take: its own cap or what is left of the budget, whichever is less; 0 when under `need`.
allow() {
  local cap=$1 need=$2 left=$((budget - SECONDS))
  if ((left < need)); then echo 0; elif ((left < cap)); then echo "$left"; else echo "$cap"; fi
}
skipped() { echo "skipped: $1 ($((budget - SECONDS)) s of the ${budget} s budget left)" | tee -a "$summary"; rc=1; }

step "environment"
{
  nvidia-smi || true
  command -v nvcc && nvcc --version || /usr/local/cuda/bin/nvcc --version || true
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  cmake --version | head -1
  echo "ninja $(ninja --version)"
  git log -1 --oneline 2>/dev/null
} > "$stage/environment.txt" 2>&1 || true
cat "$stage/environment.txt" >> "$summary"

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
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_PREFIX_PATH="$prefix/usr" -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf" > "$stage/configure.log" 2>&1 \
  || { tail -40 "$stage/configure.log" | tee -a "$summary"; exit 1; }

# The tiling benchmark is one large translation unit (the longest compile): built last, alongside the runs below.
step "build (convpt, convpt_cuda_tests; $jobs jobs)"
ninja -C "$build" -j "$jobs" convpt convpt_cuda_tests > "$stage/build.log" 2>&1 \
  || { grep -B2 -A20 -m3 'error' "$stage/build.log" | tee -a "$summary"; exit 1; }
ninja -C "$build" -j "$jobs" convpt_conv_tiling_bench > "$stage/build_tiling_bench.log" 2>&1 &
tiling_build=$!

# Per test: a hang in one kernel must leave time for the benchmarks.
t=$(allow 150 60)
if ((t > 0)); then
  step "ctest -L cuda (at most $t s)"
  tests_rc=0
  timeout "$t" ctest --test-dir "$build" -L cuda --no-tests=error --output-on-failure --timeout 90 \
    --output-junit "$stage/ctest_cuda.xml" > "$stage/ctest_cuda.log" 2>&1 || tests_rc=$?
  ((tests_rc == 0)) || rc=1
  grep -E "tests passed|Skipped|Failed|\*\*\*" "$stage/ctest_cuda.log" | tee -a "$summary" || true
else
  skipped "ctest -L cuda"
fi

convpt=$build/apps/convpt
[ -x "$convpt" ] || convpt=$(find "$build" -name convpt -type f -perm -u+x | head -1)
# Runs one benchmark under the budget: LABEL CAP NEED FILE -- command...; its output goes to FILE and the summary.
bench() {
  local label=$1 cap=$2 need=$3 file=$4 t
  shift 5
  t=$(allow "$cap" "$need")
  if ((t == 0)); then skipped "$label"; return; fi
  step "$label (at most $t s)"
  timeout "$t" "$@" > "$stage/$file" 2>&1 || echo "$label failed: rc $?" | tee -a "$summary"
  cat "$stage/$file" >> "$summary"
}
bench "convpt bench --ops: B=8, T=4096, d=1024, k 3/7/31, bf16" 120 20 bench_ops_bf16.txt -- \
  "$convpt" --device cuda bench --ops --dtype bf16 --batch 8 --channels 1024 --heads 16 --lengths 4096 \
  --kernel-sizes 3,7,31 --csv "$stage/bench_ops_bf16.csv"
bench "model-level curve: experiments/bench/gpu.yaml (base width, batch 8, bf16), input length 512..16384" 300 90 \
  bench_models.txt -- "$convpt" bench --config experiments/bench/gpu.yaml --lengths 512,1024,2048,4096,8192,16384 \
  --repeats 3 --no-plot --out "$stage/model_curve"
bench "sequence-length curve (op level): B=8, d=768, k=7, bf16, T 512..16384" 90 20 bench_lengths_bf16.txt -- \
  "$convpt" --device cuda bench --ops --dtype bf16 --batch 8 --channels 768 \
  --lengths 512,1024,2048,4096,8192,16384 --kernel-sizes 7 --csv "$stage/bench_lengths_bf16.csv"

t=$(allow 120 30)
if ((t > 0)) && timeout "$t" tail --pid="$tiling_build" -f /dev/null && wait "$tiling_build"; then
  t=$(allow 120 20)
  if ((t > 0)); then
    step "kernel tiling benchmark: B=8, T=4096, d=1024, H=16, bf16, k 3/7/31, kernel alone (CUDA events; at most $t s)"
    timeout "$t" "$build/cuda/convpt_conv_tiling_bench" > "$stage/conv_tiling_bench.txt" 2>&1 || rc=1
    cat "$stage/conv_tiling_bench.txt" >> "$summary"
  else
    skipped "kernel tiling benchmark"
  fi
else
  kill "$tiling_build" 2> /dev/null || true
  skipped "kernel tiling benchmark (its build failed or did not finish: build_tiling_bench.log)"
fi

# With CONVPT_GPU_PROFILE=1, Nsight Compute's view of the production kernels (forward, input gradient, weight
# gradient at k 3/7/31): what bounds each one. Off by default: it adds about a minute.
if [ "${CONVPT_GPU_PROFILE:-0}" = 1 ]; then
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
  t=$(allow 150 60)
  if [ -z "$ncu" ]; then
    echo "CONVPT_GPU_PROFILE=1 but no ncu on this machine" | tee -a "$summary"; rc=1
  elif ((t == 0)) || [ ! -x "$build/cuda/convpt_conv_tiling_bench" ]; then
    skipped "ncu profile"
  else
    step "ncu profile of the production kernels (at most $t s)"
    timeout "$t" "$ncu" --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats \
      --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats \
      -k regex:'conv_kernel|weight_grad_kernel' "$build/cuda/convpt_conv_tiling_bench" profile \
      > "$stage/ncu.txt" 2>&1 || echo "ncu failed: rc $?" | tee -a "$summary"
    grep -E "^  [a-z_]|Duration|DRAM Throughput|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Issued Warp" \
      "$stage/ncu.txt" >> "$summary" || true
  fi
fi

step "done: rc $rc (0: every CUDA test and tiling check passed and no step was skipped)"
exit "$rc"
