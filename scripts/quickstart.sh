#!/usr/bin/env bash
# The quick job until the full Table 2 grid lands: trains the CPU-size SentencePiece vocabulary, encodes the data,
# then fine-tunes the CPU-size Transformer and lightweight-conv models from scratch on TREC and prints their test
# accuracy beside the paper's "no pre-training" rows. A few minutes on a 2-core machine.
#   scripts/quickstart.sh [WORK_DIR]        (default: runs/quickstart; data root: scripts/data_root.sh)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
convpt=$src/build/convpt
work=${1:-$src/runs/quickstart}
CONVPT_DATA_ROOT=$("$src/scripts/data_root.sh")
export CONVPT_DATA_ROOT
mkdir -p "$work"
cd "$work"

if [ ! -f tokenizers/wiki-cpu.model ]; then
  "$convpt" tokenize train --config "$src/experiments/tokenizer/cpu.yaml"
fi
if [ ! -f shards/wiki-cpu/stats.txt ]; then
  "$convpt" --set 'data.tasks=[trec]' tokenize encode --config "$src/experiments/tokenizer/cpu.yaml"
fi

declare -A paper=([transformer]=78.00 [lightconv]=82.20)  # Table 2, no pre-training, TREC accuracy
for arch in transformer lightconv; do
  if [ ! -f "runs/trec-$arch/results.json" ]; then
    rm -rf "runs/trec-$arch"
    "$convpt" finetune --config "$src/experiments/cpu/finetune.yaml" --task trec \
      --set model.arch=$arch --set run.name=trec-$arch
  fi
done

printf '\nTREC test accuracy, fine-tuned from scratch (no pre-training)\n'
printf '%-12s %10s %10s %14s\n' model convpt paper "paper scale"
for arch in transformer lightconv; do
  accuracy=$(sed -n 's/.*"test": {"examples": [0-9]*, "accuracy": \([0-9.]*\).*/\1/p' "runs/trec-$arch/results.json")
  awk -v arch="$arch" -v a="$accuracy" -v p="${paper[$arch]}" 'BEGIN { printf "%-12s %9.2f%% %9.2f%% %14s\n", arch, 100 * a, p, "12+12, d=768" }'
done
echo "(convpt: CPU size, 4+4 layers, d_model 256, 600 steps of 32; results and logs in $work/runs)"
