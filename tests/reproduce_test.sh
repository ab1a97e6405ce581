#!/usr/bin/env bash
# `convpt reproduce` on the toy grid (experiments/smoke/table2.yaml): all 8 rows of Table 2 on SST-2 and TREC with
# real data, then the cache (a re-run skips every finished run), --force on a subset, a resumed interrupted cell,
# processes sharing the grid through run locks, and refusals of a bad grid.
# Usage: reproduce_test.sh /path/to/convpt /path/to/source-dir /path/to/data-root
set -euo pipefail
convpt=$1
src=$2
export CONVPT_DATA_ROOT=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*"; exit 1; }

"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" >first.log 2>&1 || { cat first.log; fail "grid run"; }
table=results/smoke/table2.md
[ -f "$table" ] || fail "no $table"
[ "$(grep -c '^| no pre-training: ' $table)" = 4 ] || fail "expected 4 no-pre-training rows"
[ "$(grep -c '^| pre-trained: ' $table)" = 4 ] || fail "expected 4 pre-trained rows"
[ "$(grep -c '^| gain from pre-training: ' $table)" = 4 ] || fail "expected 4 gain rows"
grep -q '16 of 16 cells finished' $table || fail "not every cell finished"
grep -q '(78.44)' $table || fail "the paper's numbers are missing"
grep -q 'SST-2 \*' $table || fail "SST-2's unofficial test labels are not marked"
commit=$("$convpt" --version | sed -n 's/.*(commit \([^,]*\),.*/\1/p')
grep -q "^- trained by convpt commit: \`$commit\` (20 runs)$" $table || fail "provenance lacks the training commit $commit"
[ "$(wc -l < results/smoke/table2.csv)" = 17 ] || fail "table2.csv should have a header and 16 rows"
[ "$(ls results/smoke/cells | wc -l)" = 20 ] || fail "expected 16 cell + 4 pre-training results under cells/"
steps_of() { sed -n "/^$2:/,/^[a-z]/s/^  steps: //p" "runs/smoke/configs/$1.yaml"; }
[ "$(steps_of pretrain-dilatedconv pretrain)" = 20 ] || fail "pre-training steps are not smoke/pretrain.yaml's"
grep -q '^  dilations: \[1, 2\]' runs/smoke/configs/pretrain-dilatedconv.yaml || fail "the model is not smoke/dilatedconv.yaml's"
init_of() { sed -n '/^finetune:/,/^[a-z]/s/^  init: //p' "runs/smoke/configs/$1.yaml"; }
[ "$(init_of trec-lightconv-pretrained)" = '"runs/smoke/pretrain-lightconv"' ] ||
  fail "the pretrained row does not start from its pre-training run"
[ "$(init_of trec-lightconv-scratch)" = '""' ] || fail "the scratch row has an init checkpoint"
tail -3 first.log

# A second run finds everything finished: no training step runs.
"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" >second.log 2>&1 || fail "cached re-run"
grep -q 'finished earlier, skipped' second.log || fail "the re-run did not use the cache"
if grep -q '^\$ convpt \(pretrain\|finetune\)' second.log; then fail "the re-run trained again"; fi
if grep -q 'tokenize' second.log; then fail "the re-run made the vocabulary or shards again"; fi
# Shards whose encoding is not known complete are made again (and then nothing else runs).
rm shards/smoke/encoded_with.json
"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" >reencode.log 2>&1 || fail "re-encoding run"
grep -q '^\$ convpt .*tokenize encode' reencode.log || fail "shards without their record were not encoded again"
[ -s shards/smoke/encoded_with.json ] || fail "the new encoding was not recorded"
if grep -q '^\$ convpt \(pretrain\|finetune\)' reencode.log; then fail "re-encoding the same data retrained"; fi
# So are shards of a task split whose data changed since (here its recorded fingerprint stands for the old data).
sed -i 's|"tasks/trec/test": "fnv1a64:[0-9a-f]*"|"tasks/trec/test": "fnv1a64:0000000000000000"|' shards/smoke/encoded_with.json
"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" >changed.log 2>&1 || fail "run after a data change"
grep -q 'tasks/trec/test: the task.s data now has another fingerprint than the one recorded' changed.log ||
  { cat changed.log; fail "shards of changed task data were not found stale"; }
grep -q '^\$ convpt .*tokenize encode' changed.log || fail "shards of changed task data were not encoded again"
if grep -q 'fnv1a64:0000000000000000' shards/smoke/encoded_with.json; then fail "the record was not renewed"; fi
# Grids that share shards (one tokenizer file) keep each other's tasks: encoding again for a TREC-only grid encodes
# SST-2 too, and a record that lacks one of a grid's datasets is not current. Dry runs show the encode command.
cp shards/smoke/encoded_with.json record.json
sed -e 's/^  name: smoke$/  name: smoketrec/' -e 's/^  datasets: .*/  datasets: [trec]/' \
  -e "s|: \(\[\?\)'\?\([a-z{}]*\.yaml\)'\?|: \1$src/experiments/smoke/\2|" "$src/experiments/smoke/table2.yaml" >trec.yaml
sed -i 's|"tasks/trec/test": "fnv1a64:[0-9a-f]*"|"tasks/trec/test": "fnv1a64:0000000000000000"|' shards/smoke/encoded_with.json
"$convpt" reproduce trec.yaml --dry-run >shared.log 2>&1 || { cat shared.log; fail "dry run of a grid sharing shards"; }
grep -q '^\$ convpt .*data.tasks=\[trec,sst2\].* tokenize encode' shared.log ||
  { cat shared.log; fail "encoding again for one grid drops another grid's task"; }
python3 - shards/smoke/encoded_with.json record.json <<'PY'
import json, sys
record = json.load(open(sys.argv[2]))
record["splits"] = [s for s in record["splits"] if not s.startswith("tasks/sst2/")]
record["fingerprints"] = {k: v for k, v in record["fingerprints"].items() if not k.startswith("tasks/sst2/")}
json.dump(record, open(sys.argv[1], "w"))
PY
"$convpt" reproduce "$src/experiments/smoke/table2.yaml" --dry-run >lacking.log 2>&1 || { cat lacking.log; fail "dry run"; }
grep -q 'hold no sst2 (the last encoding did not write it): encoding again' lacking.log ||
  { cat lacking.log; fail "shards lacking one of the grid's datasets were taken as current"; }
grep -q '^\$ convpt .*data.tasks=\[sst2,trec\].* tokenize encode' lacking.log || { cat lacking.log; fail "encode command"; }
cp record.json shards/smoke/encoded_with.json

# --force redoes exactly the selected cells; the others stay cached.
"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" --rows lightconv-scratch --datasets trec --force \
  >force.log 2>&1 || fail "--force run"
[ "$(grep -c '^\$ convpt finetune' force.log)" = 1 ] || fail "--force should run exactly one fine-tune"
if grep -q '^\$ convpt pretrain' force.log; then fail "--force on a cell redid a pre-training"; fi
# A redone cell that fails leaves the table without it, and no copy of its old result; the table's command says
# what was typed, --set included.
if "$convpt" --threads 1 --set finetune.learning_rate=1e30 reproduce "$src/experiments/smoke/table2.yaml" \
  --rows lightconv-scratch --datasets trec --force >nan.log 2>&1; then fail "a diverging cell succeeded"; fi
grep -q '^| no pre-training: Lightweight | \*\*[0-9.]*\*\* ([0-9.]*) | \*\*—\*\* (' $table ||
  { cat $table; fail "the failed cell's old result is still in the table"; }
[ ! -e results/smoke/cells/trec-lightconv-scratch.json ] || fail "the failed cell's old result is still in cells/"
grep -q '^- command: `convpt --set finetune.learning_rate=1e30 .*reproduce .*smoke/table2.yaml --rows lightconv-scratch' \
  $table || { grep command $table; fail "the table's command lacks --set"; }
"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" --rows lightconv-scratch --datasets trec --force \
  >force.log 2>&1 || fail "--force after a failure"
# A dry run shows what --force would run: the cell afresh, not "finished".
"$convpt" reproduce "$src/experiments/smoke/table2.yaml" --rows lightconv-scratch --datasets trec --force --dry-run \
  >dry.log 2>&1 || { cat dry.log; fail "--force --dry-run"; }
grep -q '^\$ convpt finetune --config runs/smoke/configs/trec-lightconv-scratch.yaml --task trec$' dry.log ||
  { cat dry.log; fail "--force --dry-run does not show the command --force runs"; }

# An interrupted cell (a run directory without results.json) is resumed, not restarted.
rm runs/smoke/sst2-dynamicconv-scratch/results.json
"$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" --rows dynamicconv-scratch --datasets sst2 \
  >resume.log 2>&1 || fail "resume run"
grep -q '^\$ convpt finetune .* --resume' resume.log || fail "the unfinished cell was not resumed"

# A signal to the reproduce process itself (not its group: `kill PID`, a container's stop) reaches the running step,
# which checkpoints and exits 130; the run has no results.json, so the next reproduce resumes it. Own grid name.
sed -e 's/^  name: smoke$/  name: smokeint/' -e "s|: \(\[\?\)'\?\([a-z{}]*\.yaml\)'\?|: \1$src/experiments/smoke/\2|" \
  "$src/experiments/smoke/table2.yaml" >int.yaml
"$convpt" --threads 1 --set pretrain.steps=100000 reproduce int.yaml --rows transformer-pretrained --datasets trec \
  >int.log 2>&1 &
pid=$!
for _ in $(seq 600); do [ -s runs/smokeint/pretrain-transformer/metrics.jsonl ] && break; sleep 0.1; done
kill -INT $pid
for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  kill -KILL $pid; pkill -KILL -f runs/smokeint/configs
  fail "reproduce went on for 60 s after SIGINT"
fi
status=0
wait $pid || status=$?
[ $status = 130 ] || { cat int.log; fail "reproduce stopped by SIGINT exited $status, not 130"; }
grep -q 'stopped by SIGINT at step' int.log || { cat int.log; fail "the signal did not reach the step"; }
[ ! -e runs/smokeint/pretrain-transformer/results.json ] || fail "an interrupted pre-training counts as finished"
"$convpt" --threads 1 reproduce int.yaml --rows transformer-pretrained --datasets trec --dry-run >int2.log 2>&1 ||
  { cat int2.log; fail "dry run after an interrupt"; }
grep -q '^\$ convpt pretrain .* --resume' int2.log || { cat int2.log; fail "the interrupted pre-training is not resumed"; }

# Reproduce processes share a grid through one lock per run: a cell another process holds is left to it (even
# under --force); a pre-training it holds is passed over for the next free run, and waited for once every other
# cell has run. `flock` stands in for the other process.
lock=runs/smoke/locks
flock $lock/trec-lightconv-scratch.lock "$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" \
  --rows lightconv-scratch --datasets trec --force >busy.log 2>&1 || { cat busy.log; fail "run beside a busy cell"; }
grep -q 'trec-lightconv-scratch: another reproduce process is running it; left to that one' busy.log ||
  fail "the busy cell was not left to its holder"
if grep -q '^\$ convpt finetune' busy.log; then fail "a cell another process holds was run"; fi
[ -f runs/smoke/trec-lightconv-scratch/results.json ] || fail "--force removed a cell another process holds"
grep -q '1 cell(s) were left to other reproduce processes: trec-lightconv-scratch' busy.log || fail "no summary"
# Runs a command (output to file $1) while another process holds pretrain-lightconv's lock, released once the
# command waits for it; returns the command's status.
with_pretraining_held() {
  local log=$1 holder waiter
  shift
  rm -f held release
  ( exec 9>$lock/pretrain-lightconv.lock; flock 9; touch held; while [ ! -e release ]; do sleep 0.1; done ) &
  holder=$!
  while [ ! -e held ]; do sleep 0.1; done
  "$@" >"$log" 2>&1 &
  waiter=$!
  for _ in $(seq 600); do grep -q 'pretrain-lightconv: .*waiting for it to finish' "$log" && break; sleep 0.1; done
  touch release
  wait $holder
  wait $waiter
}
with_pretraining_held wait.log "$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" --rows lightconv \
  --datasets trec || { cat wait.log; fail "run waiting for a pre-training"; }
grep -q 'pretrain-lightconv: another reproduce process is running it; waiting for it to finish' wait.log ||
  fail "the pre-training another process holds was not waited for"
grep -q 'pretrain-lightconv: finished earlier, skipped' wait.log || fail "the waited-for pre-training was redone"
line_of() { grep -n "$2" "$1" | head -1 | cut -d: -f1; }  # the first line of file $1 that matches $2
passed=$(line_of wait.log 'pretrain-lightconv: .*left to that one')
scratch=$(line_of wait.log 'trec-lightconv-scratch: finished earlier')
waited=$(line_of wait.log 'pretrain-lightconv: .*waiting for it to finish')
[ -n "$passed" ] && [ -n "$scratch" ] && [ "$passed" -lt "$scratch" ] && [ "$scratch" -lt "$waited" ] ||
  { cat wait.log; fail "the busy pre-training was not passed over for the scratch cell, then waited for"; }

# A dry run takes no lock: it neither waits for a run another process holds nor stops at it.
flock $lock/pretrain-lightconv.lock timeout 120 "$convpt" reproduce "$src/experiments/smoke/table2.yaml" \
  --rows lightconv-pretrained --datasets trec --dry-run >drybusy.log 2>&1 || { cat drybusy.log; fail "dry run beside a busy run"; }
grep -q 'pretrain-lightconv: finished earlier, skipped' drybusy.log || { cat drybusy.log; fail "dry run beside a busy run"; }

# A second fine-tuning seed under the same grid name: the pre-training and seed 1's cells stay cached and only the
# new seed's cells run, named <cell>-seed2 and seeded 2; --seeds selects seeds; the table averages the seeds
# finished per cell; a grid whose seed changed under the same name refuses the runs of the old seed. Run while
# another process holds the pre-training: seed 2's scratch cell comes before the wait for it, though it follows
# seed 1's pre-trained cell in the grid's order.
sed -e "s|: \(\[\?\)'\?\([a-z{}]*\.yaml\)'\?|: \1$src/experiments/smoke/\2|" -e 's/^  seed: 1$/  seed: 1\n  finetune_seeds: [1, 2]/' \
  "$src/experiments/smoke/table2.yaml" >seeds.yaml
with_pretraining_held seeds.log "$convpt" --threads 1 reproduce seeds.yaml --rows lightconv --datasets trec ||
  { cat seeds.log; fail "a second seed"; }
scratch=$(line_of seeds.log '^\$ convpt finetune .*trec-lightconv-scratch-seed2.yaml')
waited=$(line_of seeds.log 'pretrain-lightconv: .*waiting for it to finish')
pretrained=$(line_of seeds.log '^\$ convpt finetune .*trec-lightconv-pretrained-seed2.yaml')
[ -n "$scratch" ] && [ -n "$waited" ] && [ -n "$pretrained" ] && [ "$scratch" -lt "$waited" ] &&
  [ "$waited" -lt "$pretrained" ] ||
  { cat seeds.log; fail "the free scratch cell did not run before the wait for the busy pre-training"; }
[ "$(grep -c '^\$ convpt finetune' seeds.log)" = 2 ] || { cat seeds.log; fail "a second seed should run 2 fine-tunes"; }
[ "$(grep -c '^\$ convpt finetune .*-seed2.yaml' seeds.log)" = 2 ] || fail "the fine-tunes run are not seed 2's"
grep -q 'trec-lightconv-scratch: finished earlier, skipped' seeds.log || fail "seed 1's cell was not cached"
if grep -q '^\$ convpt pretrain' seeds.log; then fail "a second fine-tuning seed pre-trained again"; fi
grep -q '^  seed: 2$' runs/smoke/configs/trec-lightconv-pretrained-seed2.yaml || fail "the seed-2 cell is not seeded 2"
[ -f runs/smoke/trec-lightconv-scratch-seed2/results.json ] || fail "no seed-2 run"
"$convpt" --threads 1 reproduce seeds.yaml --rows lightconv-pretrained --seeds 2 >seeds2.log 2>&1 ||
  { cat seeds2.log; fail "--seeds 2"; }
[ "$(grep -c '^\$ convpt finetune .*sst2-lightconv-pretrained-seed2.yaml' seeds2.log)" = 1 ] || fail "--seeds 2 run"
if grep -q 'lightconv-pretrained: finished' seeds2.log; then fail "--seeds 2 selected seed 1's cells"; fi
grep -q '^| pre-trained: Lightweight | \*\*[0-9.]* ± [0-9.]*\*\* ([0-9.]*) | \*\*[0-9.]* ± [0-9.]*\*\* ([0-9.]*) |$' \
  results/smoke/table2.md || { cat results/smoke/table2.md; fail "the two-seed cells are not a mean ± sd"; }
grep -q '^| pre-trained: Transformer | \*\*[0-9.]*\*\* \[1/2\] (' results/smoke/table2.md ||
  fail "a one-seed cell of a two-seed grid is not marked [1/2]"
grep -q '^- seeds: pre-training 1, fine-tuning 1, 2 ' results/smoke/table2.md || fail "the seeds' provenance"
[ "$(wc -l < results/smoke/table2.csv)" = 33 ] || fail "table2.csv should have a header and 2 x 16 rows"
sed 's/^  seed: 1$/  seed: 2/' seeds.yaml >seed2.yaml
if "$convpt" --threads 1 reproduce seed2.yaml --rows lightconv --datasets trec >seed2.log 2>&1; then
  fail "runs of seed 1 were taken for seed 2's"
fi
grep -q 'runs/smoke/pretrain-lightconv holds a run seeded 1, not 2: its results would not belong' seed2.log ||
  { cat seed2.log; fail "no clear refusal of another seed's runs"; }
if "$convpt" reproduce seeds.yaml --seeds 3 --dry-run >bad.log 2>&1; then fail "--seeds 3 was accepted"; fi
grep -q -- "--seeds: 3 is not a fine-tuning seed of grid smoke" bad.log || { cat bad.log; fail "bad --seeds message"; }

# A fine-tuning ablation over the same pre-trainings (grid.pretrain_from): its cells run under its own name with its
# settings file on top, from the smoke grid's pre-trained weights, which are neither run again nor copied.
printf 'finetune:\n  learning_rate: 0.0005\n' >lr.yaml
sed -e 's/^  name: smoke$/  name: smokelr/' -e "s|: \(\[\?\)'\?\([a-z{}]*\.yaml\)'\?|: \1$src/experiments/smoke/\2|" \
  -e '/^  pretrain: /d' -e "s|^  finetune: \[\(.*\)\]$|  finetune: [\1, $tmp/lr.yaml]|" \
  -e "s|^  seed: 1$|  seed: 1\n  pretrain_from: $src/experiments/smoke/table2.yaml|" \
  "$src/experiments/smoke/table2.yaml" >ablation.yaml
"$convpt" --threads 1 reproduce ablation.yaml --rows lightconv --datasets trec >ablation.log 2>&1 ||
  { cat ablation.log; fail "an ablation grid"; }
[ "$(grep -c '^\$ convpt finetune --config runs/smokelr/configs/' ablation.log)" = 2 ] ||
  { cat ablation.log; fail "the ablation should run its 2 cells"; }
if grep -q '^\$ convpt pretrain' ablation.log; then fail "the ablation pre-trained again"; fi
grep -q 'runs/smoke/pretrain-lightconv: finished earlier, skipped' ablation.log || fail "the smoke pre-training was not used"
[ "$(sed -n '/^finetune:/,/^[a-z]/s/^  init: //p' runs/smokelr/configs/trec-lightconv-pretrained.yaml)" = \
  '"runs/smoke/pretrain-lightconv"' ] || fail "the ablation's pretrained cell does not start from the smoke grid's run"
grep -q '^  learning_rate: 5e-04$' runs/smokelr/configs/trec-lightconv-scratch.yaml || fail "the ablation's settings"
[ -f runs/smokelr/trec-lightconv-pretrained/results.json ] || fail "no ablation cell"
if ls -d runs/smokelr/pretrain-* runs/smokelr/locks/pretrain-* 2>/dev/null; then fail "pre-trainings under the ablation"; fi
grep -q "start from grid \`smoke\`'s pre-trainings" results/smokelr/table2.md || fail "the table does not say whose"
# --force on the ablation redoes its cells only: the smoke grid's pre-training is never removed from under it.
stamp=$(stat -c %Y runs/smoke/pretrain-lightconv/results.json)
"$convpt" --threads 1 reproduce ablation.yaml --rows lightconv-pretrained --datasets trec --force >aforce.log 2>&1 ||
  { cat aforce.log; fail "--force on the ablation"; }
[ "$(grep -c '^\$ convpt finetune' aforce.log)" = 1 ] || { cat aforce.log; fail "--force on the ablation: one cell"; }
if grep -q '^\$ convpt pretrain' aforce.log; then fail "--force on the ablation redid the smoke grid's pre-training"; fi
[ "$(stat -c %Y runs/smoke/pretrain-lightconv/results.json)" = "$stamp" ] || fail "the smoke pre-training was touched"
if "$convpt" reproduce ablation.yaml --rows lightconv --force-pretraining --dry-run >bad.log 2>&1; then
  fail "--force-pretraining on an ablation grid was accepted"
fi
grep -q -- "--force-pretraining: grid smokelr fine-tunes grid.pretrain_from's pre-trainings" bad.log ||
  { cat bad.log; fail "bad --force-pretraining message"; }

# Bad grids and filters are refused with the file, line and key, before anything runs.
printf 'grid:\n  name: x\n  datasets: [trec]\n  tokenizer: %s\n  model: %s\n  finetune: [nowhere.yaml]\n  rows: [scratch]\n' \
  "$src/experiments/smoke/tokenizer.yaml" "$src/experiments/smoke/lightconv.yaml" >bad.yaml
if "$convpt" reproduce bad.yaml >bad.log 2>&1; then fail "a grid with a missing file was accepted"; fi
grep -q 'bad.yaml:6.*grid.finetune.*nowhere.yaml' bad.log || { cat bad.log; fail "missing-file error lacks file:line/key"; }
if "$convpt" --seed 2 reproduce "$src/experiments/smoke/table2.yaml" >bad.log 2>&1; then fail "--seed was accepted"; fi
grep -q "key 'run.seed': reproduce sets it for every run from grid.seed" bad.log || { cat bad.log; fail "bad --seed message"; }
if "$convpt" reproduce "$src/experiments/smoke/table2.yaml" --rows nonsense >bad.log 2>&1; then fail "--rows nonsense"; fi
grep -q "'nonsense' matches no row" bad.log || fail "bad --rows message"
sed -e "s|: \(\[\?\)'\?\([a-z{}]*\.yaml\)'\?|: \1$src/experiments/smoke/\2|" -e 's/^  datasets: .*/  datasets: [trec, sst3]/' \
  "$src/experiments/smoke/table2.yaml" >unknown.yaml
if "$convpt" reproduce unknown.yaml --dry-run >bad.log 2>&1; then fail "a grid with an unknown dataset was accepted"; fi
grep -q "unknown.yaml:8: key 'grid.datasets': unknown task 'sst3'" bad.log || { cat bad.log; fail "unknown dataset message"; }
if grep -q '^\$ convpt' bad.log; then fail "a grid with an unknown dataset ran something"; fi

# A pre-training redone with other settings holds other weights under the same path: the cells fine-tuned from the
# old weights are refused, not averaged with the new ones, until --force redoes them (the pre-training stays).
if "$convpt" --threads 1 --set pretrain.steps=10 reproduce seeds.yaml --rows lightconv-pretrained --datasets trec \
  --seeds 1 --force-pretraining >repretrain.log 2>&1; then fail "cells fine-tuned from the old pre-training were kept"; fi
grep -q '^\$ convpt pretrain --config runs/smoke/configs/pretrain-lightconv.yaml$' repretrain.log ||
  { cat repretrain.log; fail "--force-pretraining did not pre-train afresh"; }
grep -q 'runs/smoke/trec-lightconv-pretrained holds fine-tuning from other weights than runs/smoke/pretrain-lightconv holds now' \
  repretrain.log || { cat repretrain.log; fail "no clear refusal of a cell from the old pre-training"; }
"$convpt" --threads 1 --set pretrain.steps=10 reproduce seeds.yaml --rows lightconv-pretrained --datasets trec --force \
  >redo.log 2>&1 || { cat redo.log; fail "redoing the cells of the old pre-training"; }
[ "$(grep -c '^\$ convpt finetune' redo.log)" = 2 ] || { cat redo.log; fail "--force should redo both seeds' cells"; }
grep -q 'runs/smoke/pretrain-lightconv: finished earlier, skipped' redo.log || fail "--force redid the pre-training"
# Settings changed under a finished run make it another run, too.
if "$convpt" --threads 1 reproduce seeds.yaml --rows lightconv-pretrained --datasets trec --seeds 1 >steps.log 2>&1; then
  fail "a pre-training of 10 steps was taken for the grid's 20"
fi
grep -q 'runs/smoke/pretrain-lightconv holds a run with pretrain.steps 10, not 20' steps.log ||
  { cat steps.log; fail "no clear refusal of a run with other settings"; }

# Another vocabulary under the same path: the shards are made again, and finished runs trained on the old ids are
# refused rather than mixed into the table. Last: it leaves the grid's runs unusable.
"$convpt" --threads 1 --set data.vocab_pieces=300 tokenize train --config "$src/experiments/smoke/tokenizer.yaml" \
  >retrain.log 2>&1 || { cat retrain.log; fail "retraining the vocabulary"; }
if "$convpt" --threads 1 reproduce "$src/experiments/smoke/table2.yaml" >stale.log 2>&1; then
  fail "runs trained on an earlier vocabulary were accepted"
fi
grep -q '^\$ convpt .*tokenize encode' stale.log || fail "shards of an earlier vocabulary were not encoded again"
grep -q 'pretrain-.* was trained on the ids of tokenizer fnv1a64:.*tokenizers/smoke.model is now fnv1a64:' stale.log ||
  { cat stale.log; fail "no clear refusal of runs trained on an earlier vocabulary"; }
echo "reproduce checks passed"
