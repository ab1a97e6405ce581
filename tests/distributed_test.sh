#!/usr/bin/env bash
# Data-parallel training over Gloo on loopback, through `convpt launch`, with a toy model on generated shards:
#   - 2 ranks x batch b give the losses of 1 rank x batch 2b, step by step, and the same validation loss;
#   - a run continues with another world size (2 ranks, then 1) exactly as the straight run;
#   - fine-tuning runs on 2 ranks;
#   - a killed rank, or a hung one, ends the run with an error (no hang), and the run resumes from its checkpoint;
#   - bad environments and batches that do not split are clear errors.
# Usage: distributed_test.sh /path/to/convpt /path/to/source-dir
set -u
convpt=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
port=$((20000 + RANDOM % 20000))
next_port() { port=$((port + 1)); }

# A generated corpus, a tokenizer, shards and a two-class task.
mkdir -p "$tmp/task"
bash "$src/tests/toy_corpus.sh" "$tmp/data/pretrain"
printf '%s\n' 'format: tsv' 'text_column: sentence' 'label_column: label' 'label_words: {"0": negative, "1": positive}' \
  'splits: {train: train.tsv, dev: dev.tsv, test: dev.tsv}' >"$tmp/task/mini.yaml"
printf 'sentence\tlabel\nkari to men\t1\nsa lo ver\t0\npi dun el\t1\nta qui be son\t0\nmor ta\t1\nra li go\t0\n' \
  >"$tmp/task/train.tsv"
cp "$tmp/task/train.tsv" "$tmp/task/dev.tsv"
smoke="$src/experiments/smoke/lightconv.yaml"
tok=("$convpt" --threads 1 --set data.train_corpus=[pretrain/train.txt] --set data.valid_corpus=[pretrain/valid.txt]
     --set data.vocab_pieces=200 --set "data.tasks=[$tmp/task/mini.yaml]" --set "data.tokenizer=$tmp/tok.model")
"${tok[@]}" tokenize train --config "$smoke" --data-root "$tmp/data" >/dev/null 2>&1 &&
  "${tok[@]}" tokenize encode --config "$smoke" --data-root "$tmp/data" --out "$tmp/shards" >/dev/null 2>&1 ||
  { echo "FAIL: could not make the tokenizer and shards"; exit 1; }

run=("${tok[@]}" --set "data.shards=$tmp/shards" --set "run.output_dir=$tmp/runs" --set pretrain.batch_size=4
     --set pretrain.log_every=1 --set pretrain.eval_every=3 --set pretrain.eval_batches=2
     --set pretrain.checkpoint_every=3 --set run.dist_timeout_s=20)
launch() { local n=$1; shift; next_port; "$convpt" launch --nproc "$n" --master-port "$port" --grace-s 5 -- "$@"; }

# same_losses A B [FIRST_STEP]: the metrics of runs A and B agree (relative 1e-5) from FIRST_STEP on.
same_losses() {
  python3 - "$tmp/runs/$1/metrics.jsonl" "$tmp/runs/$2/metrics.jsonl" "${3:-1}" <<'EOF'
import json, sys
def read(path):
    out = {}
    for line in open(path):
        row = json.loads(line)
        for key in ("loss", "cross_entropy", "valid_loss"):
            if key in row and row["step"] >= int(sys.argv[3]):
                out[(row["step"], key)] = row[key]
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
bad = [(k, a[k], b.get(k)) for k in sorted(a) if b.get(k) is None or abs(a[k] - b[k]) > 1e-5 * abs(a[k])]
if not a or bad or set(a) != set(b):
    print("  differ (step, metric, a, b):", bad or sorted(set(a) ^ set(b)))
    sys.exit(1)
print("  %d values agree" % len(a))
EOF
}

# 1 rank x batch 4 against 2 ranks x batch 2, then 2 ranks for 3 steps and 1 rank resuming to 6.
"${run[@]}" --set run.name=one --set pretrain.steps=6 pretrain --config "$smoke" >"$tmp/one.log" 2>&1 ||
  { fail "single-process pretrain"; tail -5 "$tmp/one.log"; }
launch 2 "${run[@]}" --set run.name=two --set pretrain.steps=6 pretrain --config "$smoke" >"$tmp/two.log" 2>&1 ||
  { fail "2-rank pretrain"; tail -20 "$tmp/two.log"; }
same_losses one two || fail "2 ranks x batch 2 differ from 1 rank x batch 4"
grep -q "\[rank 1\] .*info" "$tmp/two.log" && fail "rank 1 logs below warnings"
[ -s "$tmp/runs/two/checkpoints/step-00000006/model.safetensors" ] && [ -s "$tmp/runs/two/results.json" ] ||
  fail "rank 0 wrote no checkpoint or results"
[ "$(grep -c '"loss"' "$tmp/runs/two/metrics.jsonl")" -eq 6 ] || fail "metrics.jsonl should have 6 training lines"

launch 2 "${run[@]}" --set run.name=mixed --set pretrain.steps=3 pretrain --config "$smoke" >"$tmp/mixed.log" 2>&1 &&
  "${run[@]}" --set run.name=mixed --set pretrain.steps=6 pretrain --config "$smoke" --resume >>"$tmp/mixed.log" 2>&1 ||
  { fail "2 ranks then 1 rank resuming"; tail -20 "$tmp/mixed.log"; }
grep -q "resumed from .*step-00000003 at step 3" "$tmp/mixed.log" || fail "the 1-rank run did not resume at step 3"
same_losses one mixed 4 || fail "resuming with 1 rank after 2 differs from the straight run"

# Fine-tuning on 2 ranks: dev evaluation shared out, test results written by rank 0.
ft=("${run[@]}" --set finetune.steps=4 --set finetune.eval_every=2 --set finetune.batch_size=4 --set finetune.log_every=1)
launch 2 "${ft[@]}" --set run.name=ft finetune --config "$smoke" --task "$tmp/task/mini.yaml" --init "$tmp/runs/one" \
  --data-root "$tmp/data" >"$tmp/ft.log" 2>&1 || { fail "2-rank finetune"; tail -20 "$tmp/ft.log"; }
grep -q '"test": {"examples": 6, ' "$tmp/runs/ft/results.json" 2>/dev/null || fail "finetune results lack the 6 test examples"

# A rank killed mid-run: the launcher exits non-zero within the timeout, rank 0 says where to resume from, and
# the run resumes from its last checkpoint.
wait_for_checkpoint() {  # wait_for_checkpoint RUN: until its first checkpoint is written (60 s at most)
  for _ in $(seq 600); do  # killing a rank earlier is a different case: nothing to resume from
    [ -f "$tmp/runs/$1/checkpoints/latest" ] && return 0
    sleep 0.1
  done
  return 1
}
rank_pid() {  # rank_pid TIMEOUT_PID RANK
  for child in $(pgrep -P "$(pgrep -P "$1")"); do  # under timeout, under the launcher
    tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -qx "RANK=$2" && { echo "$child"; return; }
  done
}
for fault in KILL STOP; do
  name=fault-$fault
  next_port
  timeout 120 "$convpt" launch --nproc 2 --master-port $port --grace-s 5 -- "${run[@]}" \
    --set run.name=$name --set pretrain.steps=100000 --set run.dist_timeout_s=10 pretrain --config "$smoke" \
    >"$tmp/$name.log" 2>&1 &
  launcher=$!
  wait_for_checkpoint $name || fail "$name: no checkpoint was written"
  started=$SECONDS
  kill -$fault "$(rank_pid $launcher 1)"
  wait $launcher
  status=$?
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || ! grep -q "rank 0 of 2: training failed at step" "$tmp/$name.log" ||
     ! grep -q "continue it with --resume (last checkpoint: .*step-" "$tmp/$name.log"; then
    fail "$name: want a non-zero exit with rank 0's error (exit $status after $((SECONDS - started)) s)"
    tail -8 "$tmp/$name.log"
  fi
  echo "  $name: exit $status after $((SECONDS - started)) s:"
  grep -E "error|launch" "$tmp/$name.log" | cut -c1-300 | sed 's/^/    /'

done
grep -q "rank 1 exited with code 137" "$tmp/fault-KILL.log" || fail "the launcher did not report the killed rank"
# Rank 0 fails on its own (its collective breaks) and reports it, though the launcher's SIGTERM may arrive meanwhile.
grep -q "rank 0 exited with code 1$" "$tmp/fault-KILL.log" || fail "the launcher did not report rank 0's error exit"
step=$(sed 's/step-0*//' "$tmp/runs/fault-KILL/checkpoints/latest")
launch 2 "${run[@]}" --set run.name=fault-KILL --set pretrain.steps=$((step + 2)) pretrain --config "$smoke" --resume \
  >"$tmp/resume.log" 2>&1 && grep -q "resumed from .*step-0*$step at step $step" "$tmp/resume.log" ||
  { fail "the killed run did not resume from its checkpoint (step $step)"; tail -8 "$tmp/resume.log"; }

# Errors: a half-set environment, a batch that does not split over the ranks.
out=$(RANK=0 WORLD_SIZE=2 "${run[@]}" --set run.name=env pretrain --config "$smoke" 2>&1)
[ $? -eq 1 ] && grep -q "MASTER_ADDR is not set" <<<"$out" || fail "missing MASTER_ADDR: $out"
out=$(RANK=2 WORLD_SIZE=2 "${run[@]}" --set run.name=env pretrain --config "$smoke" 2>&1)
[ $? -eq 1 ] && grep -q "RANK=2 is not an integer in \[0, 1\]" <<<"$out" || fail "bad RANK: $out"
out=$(launch 3 "${run[@]}" --set run.name=odd pretrain --config "$smoke" 2>&1)
[ $? -eq 1 ] && grep -q "pretrain.batch_size 4 does not split over 3 ranks" <<<"$out" || fail "batch over 3 ranks: $out"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "distributed: all checks passed"
