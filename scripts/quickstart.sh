#!/usr/bin/env bash
# The README's main job: a quick reproduction of Table 2 on this machine (experiments/quick/table2.yaml): trains the
# CPU-size SentencePiece vocabulary, encodes the data, pre-trains the CPU-size Transformer and lightweight conv
# briefly on Wikipedia text, fine-tunes each from scratch and from its pre-training on TREC, and prints our table
# beside the paper's. Finished steps are cached: run it again to resume or to just print the table.
#   scripts/quickstart.sh [WORK_DIR]        (default: the checkout; data root: scripts/data_root.sh)
# Outputs: WORK_DIR/{tokenizers,shards,runs/quick}/ and the table in WORK_DIR/results/quick/table2.md.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$src}
CONVPT_DATA_ROOT=$("$src/scripts/data_root.sh")
export CONVPT_DATA_ROOT
mkdir -p "$work"
cd "$work"
exec "$src/build/convpt" reproduce "$src/experiments/quick/table2.yaml"
