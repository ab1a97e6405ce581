#!/usr/bin/env bash
# One-time (idempotent) set-up of everything convpt builds against, then a Release build.
#   - Debian packages: compilers' libraries (CLI11, SentencePiece, spdlog, yaml-cpp, Catch2 v2, zlib), Ninja,
#     jemalloc (convpt's allocator, see README "Performance notes"), gnuplot (benchmark plots) and the Gloo headers
#     that LibTorch's c10d headers include (data-parallel training; the wheel ships Gloo's code but not its headers).
#   - LibTorch from the PyPI `torch` wheel, pinned, in a machine-level cache outside the checkout
#     ($CONVPT_CACHE, default ~/.cache/convpt) so every clone of the project reuses it.
# Quiet when everything is already in place. Re-run any time.
set -euo pipefail

TORCH_VERSION=2.11.0          # the GPU machine's torch; its wheel is built against CUDA 13.0 (= our nvcc)
CACHE=${CONVPT_CACHE:-$HOME/.cache/convpt}
TORCH_ENV=$CACHE/torch-$TORCH_VERSION
BUILD_DIR=${CONVPT_BUILD_DIR:-build}
DEBIAN_PACKAGES=(build-essential cmake ninja-build pkg-config python3-venv
                 libcli11-dev libsentencepiece-dev libspdlog-dev libyaml-cpp-dev catch2 zlib1g-dev
                 libjemalloc-dev gnuplot-nox libgloo-dev)

cd "$(dirname "$0")/.."
say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$TORCH_ENV/bin/python" -c "import torch, safetensors, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  say "installing torch==$TORCH_VERSION (LibTorch for C++) into $TORCH_ENV (one time, ~5 GB)"
  mkdir -p "$CACHE"
  python3 -m venv "$TORCH_ENV"
  "$TORCH_ENV/bin/pip" install -q "torch==$TORCH_VERSION" numpy safetensors  # safetensors: tests read checkpoints
fi
cuda=$("$TORCH_ENV/bin/python" -c "import torch; print(torch.version.cuda or 'cpu')")
case "$cuda" in
  13.*|cpu) ;;
  *) say "error: torch in $TORCH_ENV is built for CUDA $cuda; convpt's nvcc is 13.x (two CUDA runtimes in one binary)"; exit 1 ;;
esac

# Configure once; later runs only rebuild what changed.
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  mkdir -p "$BUILD_DIR"
  if ! cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
         -DCONVPT_TORCH_PYTHON="$TORCH_ENV/bin/python" >"$BUILD_DIR/configure.log" 2>&1; then
    tail -n 40 "$BUILD_DIR/configure.log" >&2
    say "error: CMake configure failed (full log: $BUILD_DIR/configure.log)"; exit 1
  fi
fi
if ! cmake --build "$BUILD_DIR" >"$BUILD_DIR/build.log" 2>&1; then
  tail -n 60 "$BUILD_DIR/build.log" >&2
  say "error: build failed (full log: $BUILD_DIR/build.log)"; exit 1
fi
