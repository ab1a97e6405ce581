#!/usr/bin/env bash
# Downloads (here, with network) the Debian packages that scripts/gpu_check.sh unpacks on a GPU machine without
# network: the libraries convpt builds against, their runtime libraries, and pkg-config. They go into DIR (default
# .gpu-debs/ in the checkout, which git ignores), to travel with the working tree (e.g. the device tool's `carry`).
# Usage: scripts/fetch_gpu_debs.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.gpu-debs}"
packages=(
  libcli11-dev catch2 zlib1g-dev zlib1g
  libsentencepiece-dev libsentencepiece0
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  libyaml-cpp-dev libyaml-cpp0.7
  libjemalloc-dev libjemalloc2
  libgloo-dev  # headers only: the wheel has Gloo inside libtorch_cpu but not the headers c10d's Gloo group includes
  pkg-config pkgconf pkgconf-bin libpkgconf3
)
mkdir -p "$dir"
rm -f "$dir"/*.deb
(cd "$dir" && apt-get download "${packages[@]}")
for deb in "$dir"/*%3a*.deb; do  # an epoch ("1:") is spelled %3a in the name; keep names plain for copying tools
  [ -e "$deb" ] && mv "$deb" "${deb//%3a/_}"
done
echo "fetched $(ls "$dir"/*.deb | wc -l) packages, $(du -sh "$dir" | cut -f1), into $dir"
