#!/usr/bin/env bash
# The convpt binary as a user drives it: help, version, global flags, exit codes, config errors.
# Usage: cli_test.sh /path/to/convpt /path/to/source-dir
set -u
convpt=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE PATTERN -- COMMAND...: the command exits with CODE and its stdout+stderr matches PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  local output status
  output=$("$@" 2>&1)
  status=$?
  if [ "$status" -ne "$code" ] || ! grep -q -E -- "$pattern" <<<"$output"; then
    echo "FAIL: $* -> exit $status (want $code), output:"
    sed 's/^/    /' <<<"$output" | head -20
    echo "    (wanted pattern: $pattern)"
    failures=$((failures + 1))
  fi
}

expect 0 "Subcommands:" -- "$convpt" --help
expect 0 "^convpt [0-9]+\.[0-9]+\.[0-9]+ \(commit" -- "$convpt" --version
for cmd in env config info tokenize pretrain finetune eval bench; do
  expect 0 "Usage: .*$cmd" -- "$convpt" "$cmd" --help
done
for cmd in "tokenize" "pretrain --config x.yaml" "finetune --config x.yaml" "eval --checkpoint d --task trec" "bench"; do
  expect 3 "not implemented yet \(issue #[0-9]+\)" -- "$convpt" $cmd
done
expect 2 "" -- "$convpt"
expect 2 "frobnicate" -- "$convpt" frobnicate
expect 2 "--device" -- "$convpt" --device tpu env
expect 2 "--threads" -- "$convpt" --threads -3 env

# env applies --threads and reports the allocator and LibTorch build.
expect 0 "intra-op threads: 1 " -- "$convpt" env --threads 1
expect 0 "allocator: jemalloc .*thp:always dirty_decay_ms:-1" -- "$convpt" env
expect 0 "MKL" -- "$convpt" env

# config: resolved output, overrides through --set and the global flags, errors with file:line and exit 2.
expect 0 "arch: \"lightconv\"" -- "$convpt" config "$src/experiments/smoke/lightconv.yaml"
expect 0 "d_model: 48" -- "$convpt" config "$src/experiments/smoke/lightconv.yaml" --set model.d_model=48
expect 0 "seed: 9" -- "$convpt" --seed 9 config "$src/experiments/smoke/lightconv.yaml"
expect 0 "threads: 2" -- "$convpt" config "$src/experiments/smoke/lightconv.yaml" --threads 2
printf 'base: %s\nmodel:\n  arch: lightconv\n  kernel_sise: [3]\n' "$src/experiments/presets/tiny.yaml" >"$tmp/typo.yaml"
expect 2 "typo.yaml:4: key 'model.kernel_sise': unknown key \(did you mean 'model.kernel_sizes'\?\)" -- \
  "$convpt" config "$tmp/typo.yaml"
expect 2 "cannot open" -- "$convpt" config "$tmp/none.yaml"
expect 2 "--set model.d_model=x" -- "$convpt" config "$src/experiments/smoke/lightconv.yaml" --set model.d_model=x

# --out writes the resolved config, and nothing when the config is bad.
expect 0 "" -- "$convpt" config "$src/experiments/smoke/transformer.yaml" --out "$tmp/resolved.yaml"
expect 0 "arch: \"transformer\"" -- "$convpt" config "$tmp/resolved.yaml"
expect 2 "" -- "$convpt" config "$tmp/typo.yaml" --out "$tmp/bad.yaml"
[ -e "$tmp/bad.yaml" ] && { echo "FAIL: a bad config still wrote $tmp/bad.yaml"; failures=$((failures + 1)); }

# info: parameter counts and FLOPs of a config; JSON on request.
expect 0 "^lightconv: [0-9]+ parameters" -- "$convpt" info --config "$src/experiments/smoke/lightconv.yaml"
expect 0 "encoder\.layers\.\*\.conv " -- "$convpt" info --config "$src/experiments/smoke/lightconv.yaml"
expect 0 "^\{\"arch\": \"transformer\", \"parameters\": [0-9]+" -- \
  "$convpt" info --config "$src/experiments/smoke/transformer.yaml" --json --length 128
expect 2 "required" -- "$convpt" info

# bench --ops: a tiny smoke run checks the table's shape (timings are never asserted).
expect 0 "conv fast \(CPU\) +forward\+backward +16 +3" -- \
  "$convpt" bench --ops --batch 1 --lengths 16 --channels 8 --heads 2 --kernel-sizes 3 --repeats 1 --csv "$tmp/ops.csv"
[ "$(wc -l <"$tmp/ops.csv")" -eq 9 ] || { echo "FAIL: ops.csv should hold a header and 8 rows"; failures=$((failures + 1)); }
expect 2 "--dtype" -- "$convpt" bench --ops --dtype fp8

# --device cuda without a usable GPU is a clear error, not a silent CPU run.
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  expect 1 "no CUDA device" -- "$convpt" env --device cuda
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI check(s) failed"
  exit 1
fi
echo "all CLI checks passed"
