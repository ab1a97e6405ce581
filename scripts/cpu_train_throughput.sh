#!/usr/bin/env bash
# Training throughput of the CPU-size Transformer and lightweight conv (experiments/bench/cpu.yaml's width) at the
# CPU pre-training's shapes: inputs of 128 tokens with 32 targets and of 512 with 114, fp32 against bf16 autocast,
# batch 8, with `convpt bench`. One bench run per (length, precision); their CSVs land in OUT_DIR, and a summary
# table of training tokens/s (input tokens per second, median over the timed steps) is printed. bf16 only where the
# CPU multiplies bf16 natively (`convpt env`; elsewhere convpt refuses it), else "-". Run it on an idle machine.
#   scripts/cpu_train_throughput.sh OUT_DIR [THREADS]      (default threads: 0 = one per core)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: cpu_train_throughput.sh OUT_DIR [THREADS]}
threads=${2:-0}
mkdir -p "$out"
precisions=fp32
if "$src/build/convpt" env | grep -q '^bf16 matrix multiplies on the CPU: native'; then precisions="fp32 bf16"; fi
for shape in 128:32 512:114; do
  length=${shape%:*} targets=${shape#*:}
  for precision in $precisions; do
    "$src/build/convpt" --threads "$threads" --set "pretrain.precision=$precision" \
      --set "bench.target_length=$targets" bench --config "$src/experiments/bench/cpu.yaml" \
      --archs transformer,lightconv --lengths "$length" --batch 8 --out "$out/$length-$precision" \
      >"$out/$length-$precision.log" 2>&1 || { tail -n 20 "$out/$length-$precision.log"; exit 1; }
  done
done
printf '%-12s %6s %10s %10s %8s\n' arch length fp32_tok/s bf16_tok/s bf16/fp32
for length in 128 512; do
  for arch in transformer lightconv; do
    rate() {  # the cell's train_tokens_per_s from the bench CSV; "-" for a precision not run
      [[ -f "$out/$length-$1/bench.csv" ]] || { echo -; return; }
      awk -F, -v arch="$arch" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_tokens_per_s") c = i; next }
                               $1 == arch { print $c }' "$out/$length-$1/bench.csv"
    }
    fp32=$(rate fp32) bf16=$(rate bf16)
    awk -v a="$arch" -v l="$length" -v f="$fp32" -v b="$bf16" 'BEGIN {
      if (b == "-") printf "%-12s %6d %10.0f %10s %8s\n", a, l, f, "-", "-"
      else printf "%-12s %6d %10.0f %10.0f %8.2f\n", a, l, f, b, b / f }'
  done
done
