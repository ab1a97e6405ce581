#!/usr/bin/env bash
# The convpt binary as a user drives it: help, version, global flags, exit codes, config errors.
# Usage: cli_test.sh /path/to/convpt /path/to/source-dir /path/to/python-with-torch
set -u
convpt=$1
src=$2
python=$3
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
for cmd in env config info tokenize pretrain finetune eval predict bench; do
  expect 0 "Usage: .*$cmd" -- "$convpt" "$cmd" --help
done
expect 2 "x.yaml: cannot open config file" -- "$convpt" pretrain --config x.yaml
expect 2 "x.yaml: cannot open config file" -- "$convpt" finetune --config x.yaml
expect 1 "no checkpoint found in $tmp/none" -- "$convpt" eval --checkpoint "$tmp/none" --task trec
expect 2 "" -- "$convpt"
expect 2 "frobnicate" -- "$convpt" frobnicate
expect 2 "--device" -- "$convpt" --device tpu env
expect 2 "^--threads: must be >= 0, got -1$" -- "$convpt" --threads -1 env
expect 2 "^--nproc: must be >= 1, got 0$" -- "$convpt" launch --nproc 0 -- "$convpt" env
expect 2 "^--seed: is out of range: 99999999999999999999$" -- "$convpt" --seed 99999999999999999999 env
expect 2 "^--threads: must be <= 1024, got 4294967297$" -- "$convpt" --threads 4294967297 env
expect 2 "^--lengths: must be >= 1, got 0$" -- "$convpt" bench --ops --lengths 16,0
expect 2 "^convpt: --channels 9 is not divisible by --heads 2" -- "$convpt" bench --ops --channels 9 --heads 2
expect 1 "cannot write into $tmp/none: No such file" -- "$convpt" bench --ops --csv "$tmp/none/ops.csv"

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

# tokenize: SentencePiece on a small generated corpus (same seed, same bytes), then shards of the corpus and of a
# task file, with statistics; missing corpora and bad keys are clear errors.
mkdir -p "$tmp/task"
bash "$src/tests/toy_corpus.sh" "$tmp/data/pretrain"
printf '%s\n' 'format: tsv' 'text_column: sentence' 'label_column: label' 'label_words: {"0": negative, "1": positive}' \
  'splits: {train: train.tsv, test: test.tsv}' >"$tmp/task/mini.yaml"
printf 'sentence\tlabel\nkari to men\t1\nsa lo ver\t0\npi dun el\t1\n' >"$tmp/task/test.tsv"
printf 'ka men ri\t0\n' | cat "$tmp/task/test.tsv" - >"$tmp/task/train.tsv"  # its one text that is carved into dev
tok=("$convpt" --set data.train_corpus=[pretrain/train.txt] --set data.valid_corpus=[pretrain/valid.txt]
     --set data.vocab_pieces=200 --set "data.tasks=[$tmp/task/mini.yaml]" --set "data.tokenizer=$tmp/tok.model")
smoke="$src/experiments/smoke/lightconv.yaml"
expect 2 "subcommand is required" -- "$convpt" tokenize
expect 0 "tok.model: 200 pieces \+ 100 sentinels, trained on 900 of 900 lines" -- \
  "${tok[@]}" tokenize train --config "$smoke" --data-root "$tmp/data"
expect 0 "" -- "${tok[@]}" tokenize train --config "$smoke" --data-root "$tmp/data" --out "$tmp/again.model"
cmp -s "$tmp/tok.model" "$tmp/again.model" || { echo "FAIL: same seed, different models"; failures=$((failures + 1)); }
grep -q "vocab_pieces: 200" "$tmp/tok.config.yaml" ||
  { echo "FAIL: no resolved config next to the model"; failures=$((failures + 1)); }
expect 0 "pretrain/train +300 +[0-9]+" -- \
  "${tok[@]}" tokenize encode --config "$smoke" --data-root "$tmp/data" --out "$tmp/shards"
for f in pretrain/train.idx pretrain/valid.bin tasks/mini/train.inputs.idx tasks/mini/test.targets.bin config.yaml \
  stats.txt; do
  [ -s "$tmp/shards/$f" ] || { echo "FAIL: tokenize encode did not write $f"; failures=$((failures + 1)); }
done
expect 1 "$tmp/data/pretrain/none.txt: no such corpus file" -- \
  "${tok[@]}" tokenize train --config "$smoke" --data-root "$tmp/data" --set data.train_corpus=[pretrain/none.txt]
printf 'base: %s\ndata:\n  vocab_piece: 100\n' "$smoke" >"$tmp/data_typo.yaml"
expect 2 "data_typo.yaml:3: key 'data.vocab_piece': unknown key \(did you mean 'data.vocab_pieces'\?\)" -- \
  "$convpt" tokenize train --config "$tmp/data_typo.yaml" --data-root "$tmp/data"

# pretrain -> finetune -> eval end to end on those shards; checkpoints load in Python; resume, refusal, SIGINT.
run=("${tok[@]}" --set "data.shards=$tmp/shards" --set "run.output_dir=$tmp/runs" --set pretrain.batch_size=4
     --set pretrain.eval_batches=2 --set pretrain.eval_every=3 --set pretrain.checkpoint_every=3 --set pretrain.log_every=1)
expect 0 "step 6/6 loss" -- "${run[@]}" --set run.name=pt --set pretrain.steps=6 pretrain --config "$smoke"
for f in config.yaml log.txt metrics.jsonl results.json checkpoints/latest checkpoints/step-00000006/model.safetensors; do
  [ -s "$tmp/runs/pt/$f" ] || { echo "FAIL: pretrain did not write $f"; failures=$((failures + 1)); }
done
grep -q '"valid_loss"' "$tmp/runs/pt/metrics.jsonl" || { echo "FAIL: no validation loss"; failures=$((failures + 1)); }
expect 0 "shared.weight \[512, 64\]" -- "$python" -c "from safetensors.torch import load_file
d = load_file('$tmp/runs/pt/checkpoints/step-00000006/model.safetensors')
print(len(d), 'tensors; shared.weight', list(d['shared.weight'].shape))"
expect 0 "resumed from .*step-00000006 at step 6" -- \
  "${run[@]}" --set run.name=pt --set pretrain.steps=8 pretrain --config "$smoke" --resume
# A finished run resumed again keeps its result; --resume continues only a run of the same command.
cp "$tmp/runs/pt/results.json" "$tmp/pt_results.json"
expect 0 "resumed from .*step-00000008 at step 8" -- \
  "${run[@]}" --set run.name=pt --set pretrain.steps=8 pretrain --config "$smoke" --resume
# (A tolerance, not equality: the bug this guards against gave null, or step 6's loss, percents away.)
"$python" -c "import json, sys; a, b = (json.load(open(f))['valid_loss'] for f in sys.argv[1:])
sys.exit(0 if b is not None and abs(a - b) <= 1e-4 * abs(a) else f'valid_loss {a} became {b}')" \
  "$tmp/pt_results.json" "$tmp/runs/pt/results.json" ||
  { echo "FAIL: resuming a finished pretrain changed its results.json"; failures=$((failures + 1)); }
expect 0 "--resume: no checkpoint in .*runs/fresh yet; the run starts from step 0" -- \
  "${run[@]}" --set run.name=fresh --set pretrain.steps=1 pretrain --config "$smoke" --resume
expect 1 "runs/pt holds a pretrain run, not a finetune run, which finetune --resume cannot continue" -- "${run[@]}" --set run.name=pt \
  finetune --config "$smoke" --task "$tmp/task/mini.yaml" --data-root "$tmp/data" --resume
expect 1 "^convpt: error: loss is nan at step [0-9]+; stopped without saving" -- "${run[@]}" --log-level off \
  --set run.name=nan --set pretrain.learning_rate=1e30 --set pretrain.steps=30 pretrain --config "$smoke"
[ ! -e "$tmp/runs/nan/results.json" ] || { echo "FAIL: a run stopped by NaN has results.json"; failures=$((failures + 1)); }
expect 2 "key 'pretrain.learning_rate': expected a finite number, got '.inf'" -- "${run[@]}" \
  --set pretrain.learning_rate=.inf pretrain --config "$smoke"
expect 2 "key 'pretrain.steps': must be > 0" -- "${run[@]}" --set run.name=zero --set pretrain.steps=0 pretrain --config "$smoke"
# precision auto is settled for this CPU and recorded; bf16 where this CPU does not multiply it natively is refused
# before the run directory exists.
if "$convpt" env | grep -q '^bf16 matrix multiplies on the CPU: native'; then settled=bf16; else settled=fp32; fi
expect 0 "pretrain.precision auto: $settled on cpu" -- "${run[@]}" --set run.name=auto --set pretrain.steps=1 \
  --set pretrain.precision=auto pretrain --config "$smoke"
grep -q "precision: \"$settled\"" "$tmp/runs/auto/config.yaml" ||
  { echo "FAIL: runs/auto/config.yaml does not record precision $settled"; failures=$((failures + 1)); }
if [ "$settled" = fp32 ]; then
  expect 2 "smoke/lightconv.yaml: key 'pretrain.precision': bf16 on this CPU would run every matrix multiply in" -- \
    "${run[@]}" --set run.name=bf16 --set pretrain.precision=bf16 pretrain --config "$smoke"
  [ ! -e "$tmp/runs/bf16" ] || { echo "FAIL: a refused bf16 run left runs/bf16"; failures=$((failures + 1)); }
fi
printf '%s\n' 'format: tsv' 'text_column: sentence' 'label_column: label' 'label_words: {"0": negative, "1": positive}' \
  'splits: {train: train.tsv, dev: test.tsv, test: test.tsv}' >"$tmp/task/mini_dev.yaml"
ft=("${run[@]}" --set finetune.steps=4 --set finetune.eval_every=2 --set finetune.batch_size=2)
expect 0 "mini_dev test: accuracy" -- "${ft[@]}" --set run.name=ft finetune --config "$smoke" \
  --task "$tmp/task/mini_dev.yaml" --init "$tmp/runs/pt" --data-root "$tmp/data"
grep -q '"test": {"examples": 3, "accuracy": ' "$tmp/runs/ft/results.json" ||
  { echo "FAIL: finetune results.json lacks test metrics"; failures=$((failures + 1)); }
expect 0 '^\{"examples": 3, "accuracy": [0-9.]+, "f1": ' -- \
  "$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task/mini_dev.yaml" --split test --data-root "$tmp/data" --json
# predict labels new text with the fine-tuned run (its task by default): on the test split's texts, its labels make
# eval's confusion matrix; --json gives each label word's probability; --text, --input FILE and stdin agree.
tail -n +2 "$tmp/task/test.tsv" | cut -f1 >"$tmp/test_texts.txt"
pred=("$convpt" predict --checkpoint "$tmp/runs/ft" --data-root "$tmp/data")
"${pred[@]}" --input "$tmp/test_texts.txt" >"$tmp/predicted.txt" 2>"$tmp/predict.log" &&
  "${pred[@]}" --input - --json <"$tmp/test_texts.txt" >"$tmp/predicted.jsonl" 2>>"$tmp/predict.log" &&
  "${pred[@]}" --text "kari to men" --text "sa lo ver" --text "pi dun el" >"$tmp/predicted_texts.txt" 2>>"$tmp/predict.log" &&
  "$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task/mini_dev.yaml" --split test --data-root "$tmp/data" \
    --json >"$tmp/eval.json" 2>>"$tmp/predict.log" ||
  { echo "FAIL: predict or eval failed:"; sed 's/^/    /' "$tmp/predict.log"; failures=$((failures + 1)); }
"$python" - "$tmp/task/test.tsv" "$tmp/predicted.txt" "$tmp/predicted.jsonl" "$tmp/predicted_texts.txt" "$tmp/eval.json" <<'PY' ||
import json, math, sys
test, plain, jsonl, texts, evaluation = sys.argv[1:]
words = ["negative", "positive"]
gold = [words[int(line.split("\t")[1])] for line in open(test).read().splitlines()[1:]]
labels = open(plain).read().splitlines()
rows = [json.loads(line) for line in open(jsonl)]
assert len(labels) == len(gold) == len(rows), (labels, rows)
assert open(texts).read().splitlines() == labels, "--text and --input disagree"
for label, row in zip(labels, rows):
    p = row["probabilities"]
    assert sorted(p) == words and abs(sum(p.values()) - 1) < 1e-5, row
    assert row["label"] == label == max(p, key=p.get), (label, row)
confusion = [[sum(g == words[a] and l == words[b] for g, l in zip(gold, labels)) for b in range(2)] for a in range(2)]
assert confusion == json.load(open(evaluation))["confusion"], (confusion, open(evaluation).read())
PY
  { echo "FAIL: predict's labels disagree with eval or are malformed"; failures=$((failures + 1)); }
expect 2 "predict: give --text or --input" -- "${pred[@]}"
# predict reads no data: it needs no data root, unless a task file takes its label words from data under one.
env -u CONVPT_DATA_ROOT "$convpt" predict --checkpoint "$tmp/runs/ft" --input "$tmp/test_texts.txt" 2>/dev/null |
  cmp -s - "$tmp/predicted.txt" || { echo "FAIL: predict without a data root differs"; failures=$((failures + 1)); }
printf '%s\n' 'format: tsv' 'text_column: sentence' 'label_column: label' 'splits: {train: sst2/train.tsv}' \
  >"$tmp/task/rootless.yaml"
expect 1 "rootless.yaml: sst2/train.tsv is not next to the task file, and no data root is set" -- \
  env -u CONVPT_DATA_ROOT "$convpt" predict --checkpoint "$tmp/runs/ft" --task "$tmp/task/rootless.yaml" --text a
expect 2 "--(text|input) excludes --(input|text)" -- "${pred[@]}" --text a --input "$tmp/test_texts.txt"
expect 1 "$tmp/none.txt: no such file" -- "${pred[@]}" --input "$tmp/none.txt"
# The input is read as the tasks' text is: gzip as well as plain, and a NUL byte is refused with file and line.
gzip -c "$tmp/test_texts.txt" >"$tmp/test_texts.txt.gz"
"${pred[@]}" --input "$tmp/test_texts.txt.gz" 2>/dev/null | cmp -s - "$tmp/predicted.txt" ||
  { echo "FAIL: predict on the gzipped texts differs from the plain ones"; failures=$((failures + 1)); }
printf 'kari to men\nsa\000lo\n' >"$tmp/nul.txt"
expect 1 "$tmp/nul.txt:2: NUL byte in the line" -- "${pred[@]}" --input "$tmp/nul.txt"
: >"$tmp/empty.txt"
expect 1 "$tmp/empty.txt: no text to classify" -- "${pred[@]}" --input "$tmp/empty.txt"
expect 2 "runs/pt names no task \(a pre-training run\?\): pass --task" -- \
  "$convpt" predict --checkpoint "$tmp/runs/pt" --text a --data-root "$tmp/data"
expect 2 "key 'model.d_model': predict takes the checkpoint's config" -- "${pred[@]}" --text a --set model.d_model=32
expect 2 "lightconv.yaml: key 'finetune.input_length': must be <= model.max_positions \(128, the learned positions of lightconv\), got 256" -- \
  "${ft[@]}" --set run.name=ft8 --set finetune.input_length=256 finetune --config "$smoke" \
  --task "$tmp/task/mini_dev.yaml" --data-root "$tmp/data"
[ ! -e "$tmp/runs/ft8" ] || { echo "FAIL: a refused finetune left a run directory"; failures=$((failures + 1)); }
expect 1 "finetune.target_length is 2, but mini_dev's longest label word, '(negative|positive)', is [0-9]+ tokens" -- \
  "${ft[@]}" --set run.name=ft7 --set finetune.target_length=2 finetune --config "$smoke" \
  --task "$tmp/task/mini_dev.yaml" --data-root "$tmp/data"
[ ! -e "$tmp/runs/ft7" ] || { echo "FAIL: a refused finetune left a run directory"; failures=$((failures + 1)); }
# A bad training row refuses the run before its directory exists (a leftover directory would block the rerun).
printf 'sentence\tlabel\nkari to men\t1\nsa lo ver\t7\n' >"$tmp/task/bad_train.tsv"
sed 's/train: train.tsv/train: bad_train.tsv/' "$tmp/task/mini_dev.yaml" >"$tmp/task/bad_train.yaml"
expect 1 "task/bad_train.tsv:3: bad label '7'" -- "${ft[@]}" --set run.name=ft10 finetune --config "$smoke" \
  --task "$tmp/task/bad_train.yaml" --data-root "$tmp/data"
[ ! -e "$tmp/runs/ft10" ] || { echo "FAIL: a finetune refused for bad training data left a run directory"; failures=$((failures + 1)); }
# Label words that tokenise alike (here: letters the vocabulary never saw) would merge their classes.
sed 's/label_words: .*/label_words: {"0": zzz, "1": xxx}/' "$tmp/task/mini_dev.yaml" >"$tmp/task/same_ids.yaml"
expect 1 "same_ids: label words 'zzz' and 'xxx' are the same token ids with .*tok.model" -- "${ft[@]}" \
  --set run.name=ft12 finetune --config "$smoke" --task "$tmp/task/same_ids.yaml" --data-root "$tmp/data"
[ ! -e "$tmp/runs/ft12" ] || { echo "FAIL: a refused finetune left a run directory"; failures=$((failures + 1)); }
# A split without examples is an error, not a score of 0: here dev, carved from a train file with no text for it.
sed 's/train: train.tsv/train: test.tsv/' "$tmp/task/mini.yaml" >"$tmp/task/no_dev.yaml"
expect 1 "task/test.tsv: no_dev/dev has no examples \(3 rows belong to other splits" -- "${ft[@]}" --set run.name=ft11 \
  finetune --config "$smoke" --task "$tmp/task/no_dev.yaml" --data-root "$tmp/data"
[ ! -e "$tmp/runs/ft11" ] || { echo "FAIL: a finetune refused for an empty dev left a run directory"; failures=$((failures + 1)); }
# eval takes the checkpoint's config; --set may change only what evaluation reads, and is refused elsewhere.
evalft=("$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task/mini_dev.yaml" --split test --data-root "$tmp/data")
expect 0 '^\{"examples": 3, "accuracy": ' -- "${evalft[@]}" --json --set finetune.batch_size=1 --threads 1
expect 1 "$tmp/missing.model" -- "${evalft[@]}" --set "data.tokenizer=$tmp/missing.model"
expect 2 "set finetune.precision=fp8: key 'finetune.precision'" -- "${evalft[@]}" --set finetune.precision=fp8
expect 2 "set model.d_model=32: key 'model.d_model': eval takes the checkpoint's config and may override only run" -- \
  "${evalft[@]}" --set model.d_model=32
expect 2 "key 'finetune.steps': eval takes the checkpoint's config" -- "${evalft[@]}" --set finetune.steps=9
expect 1 "runs/ft holds fine-tuning on task '.*mini_dev.yaml' from init '.*runs/pt', not on task '.*mini.yaml'" -- \
  "${ft[@]}" --set run.name=ft finetune --config "$smoke" --task "$tmp/task/mini.yaml" --init "$tmp/runs/pt" \
  --data-root "$tmp/data" --resume
# --resume with settings that change the weights is refused before the run is touched: a finished run stays finished.
cp "$tmp/runs/ft/results.json" "$tmp/ft_results.json"
resume_ft=(finetune --config "$smoke" --task "$tmp/task/mini_dev.yaml" --init "$tmp/runs/pt" --data-root "$tmp/data" --resume)
expect 1 "runs/ft holds a run with finetune.learning_rate [0-9.e-]+, not 0.5, which finetune --resume cannot continue" -- \
  "${ft[@]}" --set run.name=ft --set finetune.learning_rate=0.5 "${resume_ft[@]}"
expect 1 "model.d_model: checkpoint 64, config 32" -- "${ft[@]}" --set run.name=ft --set model.d_model=32 \
  "${resume_ft[@]}"
cmp -s "$tmp/ft_results.json" "$tmp/runs/ft/results.json" ||
  { echo "FAIL: a refused --resume removed or changed the finished run's results.json"; failures=$((failures + 1)); }
expect 1 "model.d_model: checkpoint 64, config 32" -- "${ft[@]}" --set run.name=ft2 \
  --set model.d_model=32 finetune --config "$smoke" --task "$tmp/task/mini_dev.yaml" --init "$tmp/runs/pt" \
  --data-root "$tmp/data"
"${run[@]}" --set run.name=int --set pretrain.steps=100000 pretrain --config "$smoke" >"$tmp/int.log" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -s "$tmp/runs/int/metrics.jsonl" ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
status=$?
if [ "$status" -ne 130 ] || ! grep -q "stopped by SIGINT" "$tmp/int.log" || [ ! -s "$tmp/runs/int/checkpoints/latest" ] ||
   [ -e "$tmp/runs/int/results.json" ]; then
  echo "FAIL: SIGINT should save a checkpoint, write no results.json (the run is not finished) and exit 130 (got $status)"
  sed 's/^/    /' "$tmp/int.log" | tail -5
  failures=$((failures + 1))
fi

# Ids are read only with the tokenizer that made them. The shards and every checkpoint record its fingerprint; task
# shards made from another data root are tokenised anew, with a warning; after a vocabulary is retrained under the
# same path, pretrain refuses the old shards and finetune --init and eval refuse the checkpoints trained on old ids.
grep -q '"tokenizer_fingerprint": "fnv1a64:[0-9a-f]\{16\}+' "$tmp/shards/encoded_with.json" ||
  { echo "FAIL: tokenize encode did not record its tokenizer"; failures=$((failures + 1)); }
grep -q '"tokenizer_fingerprint": "fnv1a64:' "$tmp/runs/pt/checkpoints/step-00000006/meta.json" ||
  { echo "FAIL: a pretrain checkpoint does not record its tokenizer"; failures=$((failures + 1)); }
grep -q '"splits": \["pretrain/train", "pretrain/valid", "tasks/mini/train", ' "$tmp/shards/encoded_with.json" ||
  { echo "FAIL: tokenize encode did not list what it wrote"; failures=$((failures + 1)); }
cp -r "$tmp/data" "$tmp/data2"
expect 0 "encoded from another data root .*tokenizing mini/test from the data instead" -- \
  "$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task/mini.yaml" --split test --data-root "$tmp/data2"
cp -r "$tmp/shards" "$tmp/shards2"  # encoded again without the task: its old shards stay, unlisted
expect 0 "" -- "${tok[@]}" --set data.tasks=[] tokenize encode --config "$smoke" --data-root "$tmp/data" --out "$tmp/shards2"
# Without data.tasks, encode takes the built-in tasks' splits whose files are present: absent ones are skipped, but
# present and broken ones are errors.
cp -r "$tmp/data" "$tmp/data3"
mkdir -p "$tmp/data3/trec"
printf 'NUM:date When ?\nLOC:city Where ?\n' >"$tmp/data3/trec/TREC_10.label"
expect 0 "trec/test +2 " -- "${tok[@]}" --set data.tasks=[] tokenize encode --config "$smoke" --data-root "$tmp/data3" \
  --out "$tmp/shards3"
: >"$tmp/data3/trec/TREC_10.label"
expect 1 "data3/trec/TREC_10.label: empty file" -- "${tok[@]}" --set data.tasks=[] tokenize encode --config "$smoke" \
  --data-root "$tmp/data3" --out "$tmp/shards3"
expect 1 "nosuch" -- "${tok[@]}" --set "data.tasks=[$tmp/task/mini.yaml,nosuch]" tokenize encode --config "$smoke" \
  --data-root "$tmp/data" --out "$tmp/shards2"
[ -s "$tmp/shards2/encoded_with.json" ] ||
  { echo "FAIL: an encode refused for an unknown task dropped the shards' record"; failures=$((failures + 1)); }
expect 0 "shards2/tasks/mini/train: left from an earlier encoding" -- "${ft[@]}" --set "data.shards=$tmp/shards2" \
  --set run.name=ft5 finetune --config "$smoke" --task "$tmp/task/mini.yaml" --data-root "$tmp/data"
# Task shards serve only the data they were encoded from (encoded_with.json keeps a fingerprint per split): another task
# of the same name, the task file repointed, or a data file edited in place are tokenised anew, with a warning; two
# tasks of one name in one encoding are refused.
evalmini=("$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task/mini.yaml" --split test --data-root "$tmp/data")
output=$("${evalmini[@]}" 2>&1)
grep -q "tokenizing" <<<"$output" && { echo "FAIL: eval did not use the task's shards: $output"; failures=$((failures + 1)); }
mkdir -p "$tmp/task2"
printf 'sentence\tlabel\nlo ver pi\t0\nto ka el\t1\n' >"$tmp/task2/other.tsv"
sed 's/test: test.tsv/test: other.tsv/' "$tmp/task/mini.yaml" >"$tmp/task2/mini.yaml"
cp "$tmp/task/train.tsv" "$tmp/task2/train.tsv"
expect 0 "tasks/mini/test: encoded from other data \(fnv1a64:.*another definition of task 'mini', or its files" -- \
  "$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task2/mini.yaml" --split test --data-root "$tmp/data"
cp "$tmp/task/mini.yaml" "$tmp/mini.yaml.orig"
sed -i 's/test: test.tsv/test: ..\/task2\/other.tsv/' "$tmp/task/mini.yaml"
expect 0 "tasks/mini/test: encoded from other data \(fnv1a64:" -- "${evalmini[@]}"
cp "$tmp/mini.yaml.orig" "$tmp/task/mini.yaml"
cp -p "$tmp/task/test.tsv" "$tmp/test.tsv.orig"
printf 'ka men ri\t1\n' >>"$tmp/task/test.tsv"
expect 0 "tasks/mini/test: encoded from other data \(fnv1a64:" -- "${evalmini[@]}"
expect 0 "^mini test: 4 examples" -- "${evalmini[@]}"
cp -p "$tmp/test.tsv.orig" "$tmp/task/test.tsv"
output=$("${evalmini[@]}" 2>&1)
grep -q "tokenizing" <<<"$output" && { echo "FAIL: restored data did not match its shards: $output"; failures=$((failures + 1)); }
expect 1 "data.tasks: '.*/task/mini.yaml' and '.*/task2/mini.yaml' are both task 'mini', whose shards go to" -- \
  "${tok[@]}" --set "data.tasks=[$tmp/task/mini.yaml,$tmp/task2/mini.yaml]" tokenize encode --config "$smoke" \
  --data-root "$tmp/data" --out "$tmp/dup"
[ ! -e "$tmp/dup" ] || { echo "FAIL: a refused encode wrote $tmp/dup"; failures=$((failures + 1)); }
expect 0 "" -- "${tok[@]}" --set data.vocab_pieces=180 tokenize train --config "$smoke" --data-root "$tmp/data"
expect 1 "shards was encoded with tokenizer .*tok.model \(fnv1a64:.*re-run .convpt tokenize encode." -- \
  "${run[@]}" --set run.name=pt3 --set pretrain.steps=2 pretrain --config "$smoke"
expect 1 "checkpoint .*runs/pt was trained on the ids of tokenizer fnv1a64:.*but data.tokenizer .*tok.model is" -- \
  "${ft[@]}" --set run.name=ft3 finetune --config "$smoke" --task "$tmp/task/mini_dev.yaml" --init "$tmp/runs/pt" \
  --data-root "$tmp/data"
[ ! -e "$tmp/runs/ft3" ] || { echo "FAIL: a refused finetune left a run directory"; failures=$((failures + 1)); }
expect 1 "trained on the ids of tokenizer" -- \
  "$convpt" eval --checkpoint "$tmp/runs/ft" --task "$tmp/task/mini_dev.yaml" --split test --data-root "$tmp/data"
expect 1 "checkpoint .*runs/ft5/checkpoints/step-00000004 was trained on the ids of tokenizer" -- "${ft[@]}" \
  --set "data.shards=$tmp/shards2" --set run.name=ft5 --set finetune.steps=6 finetune --config "$smoke" \
  --task "$tmp/task/mini.yaml" --data-root "$tmp/data" --resume
expect 0 "tasks/mini/train: encoded with another tokenizer .*tokenizing mini/train from the data instead" -- \
  "${ft[@]}" --set run.name=ft6 finetune --config "$smoke" --task "$tmp/task/mini.yaml" --data-root "$tmp/data"

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
