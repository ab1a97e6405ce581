#!/usr/bin/env bash
# `convpt bench --config` at toy size: the outputs' shape (terminal table, CSV, JSON, plot), out-of-memory cells
# reported rather than crashed on, a clear failure without gnuplot, and --no-plot. Timings are never asserted.
# Usage: bench_smoke_test.sh /path/to/convpt /path/to/source-dir
set -u
convpt=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

smoke="$src/experiments/bench/smoke.yaml"
if ! "$convpt" bench --config "$smoke" --threads 1 --out "$tmp/run" >"$tmp/table.txt" 2>"$tmp/log.txt"; then
  fail "bench --config smoke.yaml exited non-zero"; sed 's/^/    /' "$tmp/log.txt" | tail -20
fi
# A header, then one line per architecture and length.
grep -q -E "^arch +length +train ms" "$tmp/table.txt" || fail "no table header on stdout"
[ "$(grep -c -E "^(transformer|lightconv|dynamicconv|dilatedconv) +(16|32) " "$tmp/table.txt")" -eq 8 ] ||
  fail "the table should hold 4 architectures x 2 lengths"
[ "$(wc -l <"$tmp/run/bench.csv")" -eq 9 ] || fail "bench.csv should hold a header and 8 rows"
head -1 "$tmp/run/bench.csv" | grep -q "^arch,length,.*train_tokens_per_s,.*peak_memory_mib,.*train_speedup,.*,status$" ||
  fail "bench.csv header: $(head -1 "$tmp/run/bench.csv")"
[ -s "$tmp/run/bench.png" ] || fail "no bench.png"
[ -s "$tmp/run/config.yaml" ] || fail "no resolved config.yaml"
python3 - "$tmp/run/bench.json" <<'PY' || fail "bench.json"
import json, sys
doc = json.load(open(sys.argv[1]))
cells = doc["cells"]
assert len(cells) == 8, len(cells)
assert {c["arch"] for c in cells} == {"transformer", "lightconv", "dynamicconv", "dilatedconv"}
for c in cells:
    assert c["status"] == "ok", c
    for key in ("train_median_ms", "train_tokens_per_s", "train_gflop_per_s", "encoder_tokens_per_s",
                "decode_tokens_per_s", "peak_memory_mib", "train_speedup"):
        assert c[key] > 0, (key, c)
    if c["arch"] == "transformer":
        assert c["train_speedup"] == 1, c
PY

# A memory cap below what a cell needs: every cell is reported as out of memory, and the run still succeeds.
if ! "$convpt" bench --config "$smoke" --threads 1 --archs lightconv --lengths 16 --set bench.max_memory_gb=0.01 \
  --out "$tmp/capped" >"$tmp/capped.txt" 2>&1; then
  fail "a capped run should report OOM cells, not fail"; sed 's/^/    /' "$tmp/capped.txt" | tail -20
fi
grep -q -E "^lightconv +16 +OOM" "$tmp/capped.txt" || fail "the capped cell is not shown as OOM"
grep -q "out of memory" "$tmp/capped/bench.csv" || fail "bench.csv does not say out of memory"

# One length: the plot is made without gnuplot's warnings about an empty x range.
if ! "$convpt" bench --config "$smoke" --threads 1 --archs lightconv --lengths 16 --out "$tmp/one" >"$tmp/one.txt" 2>&1; then
  fail "bench with one length exited non-zero"; sed 's/^/    /' "$tmp/one.txt" | tail -20
fi
[ -s "$tmp/one/bench.png" ] || fail "one length: no bench.png"
! grep -q "empty . range" "$tmp/one.txt" || fail "one length: gnuplot warned: $(grep "empty . range" "$tmp/one.txt")"

# Without gnuplot the data is still written, and the command says how to make the plot.
output=$(PATH=/nonexistent "$convpt" bench --config "$smoke" --threads 1 --archs lightconv --lengths 16 \
  --out "$tmp/noplot" 2>&1)
status=$?
[ "$status" -eq 1 ] || fail "without gnuplot: exit $status (want 1)"
grep -q "cannot run gnuplot.*gnuplot bench.gp" <<<"$output" || fail "without gnuplot: $output"
[ -s "$tmp/noplot/bench.csv" ] && [ -s "$tmp/noplot/bench.json" ] || fail "without gnuplot: no CSV/JSON"
# --no-plot (a GPU machine without gnuplot): success, the data and bench.gp, no image.
if ! PATH=/nonexistent "$convpt" bench --config "$smoke" --threads 1 --archs lightconv --lengths 16 --no-plot \
  --out "$tmp/skipplot" >"$tmp/skipplot.txt" 2>&1; then
  fail "--no-plot without gnuplot should succeed"; sed 's/^/    /' "$tmp/skipplot.txt" | tail -20
fi
[ -s "$tmp/skipplot/bench.csv" ] && [ -s "$tmp/skipplot/bench.gp" ] || fail "--no-plot: no CSV or bench.gp"
[ ! -e "$tmp/skipplot/bench.png" ] || fail "--no-plot: bench.png was made"

# Usage errors.
output=$("$convpt" bench 2>&1)
[ $? -eq 2 ] && grep -q "pass --config FILE" <<<"$output" || fail "bench without --config or --ops: $output"
output=$("$convpt" bench --config "$smoke" --set bench.seq_lengths=[0] 2>&1)
[ $? -eq 2 ] && grep -q "bench.seq_lengths\[0\]" <<<"$output" || fail "bad length: $output"

if [ "$failures" -ne 0 ]; then
  echo "$failures bench check(s) failed"
  exit 1
fi
echo "all bench checks passed"
