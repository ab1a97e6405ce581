#!/usr/bin/env bash
# End to end on the real data at toy size (about a minute): a SentencePiece vocabulary, a short pre-training run on
# Wikipedia text whose validation loss (on C4 documents) must fall, then TREC fine-tuning that must clearly beat the
# majority class (DESC: 138 of the 500 test questions, 27.6%).
# Usage: e2e_test.sh /path/to/convpt /path/to/source-dir /path/to/data-root
set -euo pipefail
convpt=$1
src=$2
export CONVPT_DATA_ROOT=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat >e2e.yaml <<YAML
base: $src/experiments/presets/tiny.yaml
run: {name: e2e, output_dir: runs}
model: {arch: lightconv, vocab_size: 2048}
data:
  tokenizer: tok.model
  vocab_pieces: 1900
  tokenizer_sample_lines: 20000
  train_corpus: [pretrain/wiki_en.valid.txt.gz]
  valid_corpus: [pretrain/c4_en.train00000.first1000.jsonl.gz]
  tasks: [trec]
  shards: shards
pretrain: {steps: 400, batch_size: 16, eval_every: 100, eval_batches: 10, checkpoint_every: 200}
finetune: {steps: 300, batch_size: 32, learning_rate: 0.001, optimizer: adamw, eval_every: 100}
YAML
"$convpt" tokenize train --config e2e.yaml
"$convpt" tokenize encode --config e2e.yaml
"$convpt" pretrain --config e2e.yaml
losses=$(sed -n 's/.*"valid_loss": \([0-9.]*\).*/\1/p' runs/e2e/metrics.jsonl)
echo "validation loss at steps 100..400: $(echo $losses)"
awk -v first="$(echo "$losses" | head -1)" -v last="$(echo "$losses" | tail -1)" \
  'BEGIN { if (!(last < 0.9 * first)) { print "FAIL: validation loss did not fall by 10%"; exit 1 } }'
"$convpt" finetune --config e2e.yaml --task trec --init runs/e2e --set run.name=trec
accuracy=$(sed -n 's/.*"test": {"examples": 500, "accuracy": \([0-9.]*\).*/\1/p' runs/trec/results.json)
echo "TREC test accuracy: $accuracy (majority class: 0.276)"
awk -v a="$accuracy" 'BEGIN { if (!(a > 0.5)) { print "FAIL: TREC accuracy does not clearly beat the majority class"; exit 1 } }'
echo "end-to-end checks passed"
