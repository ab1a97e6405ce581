#!/usr/bin/env bash
# A small generated pre-training corpus for the CLI tests: 300 documents of 3 sentences of made-up words (the same
# bytes every time), as DIR/train.txt and its first 40 lines as DIR/valid.txt.
# Usage: toy_corpus.sh DIR
set -euo pipefail
dir=${1:?usage: toy_corpus.sh DIR}
mkdir -p "$dir"
awk 'BEGIN { srand(1); n = split("ka ri to men sa lo ver pi dun el mor ta qui be son ra li go fen ul", s, " ")
  for (d = 0; d < 300; d++) { for (l = 0; l < 3; l++) { line = ""; words = 4 + int(rand() * 10)
    for (w = 0; w < words; w++) {
      word = ""; for (k = 1 + int(rand() * 3); k > 0; k--) word = word s[1 + int(rand() * n)]
      line = line (w ? " " : "") word }
    print line "." }
  print "" } }' >"$dir/train.txt"
head -40 "$dir/train.txt" >"$dir/valid.txt"
