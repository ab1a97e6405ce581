#!/usr/bin/env bash
# Prints the dataset root: $CONVPT_DATA_ROOT if set, else shared/data beside this checkout, else shared/data beside
# the repository this checkout was cloned from (a fresh clone elsewhere still finds the machine's datasets); those
# two must hold MANIFEST.md. Exits 1 when there is none.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${CONVPT_DATA_ROOT:-}" ]; then  # the user's choice, whatever it holds
  echo "$CONVPT_DATA_ROOT"
  exit 0
fi
candidates=("$src/../shared/data")
origin=$(git -C "$src" config --get remote.origin.url 2>/dev/null || true)
[ -n "$origin" ] && [ -d "$origin" ] && candidates+=("$origin/../shared/data")
for dir in "${candidates[@]}"; do
  if [ -f "$dir/MANIFEST.md" ]; then
    (cd "$dir" && pwd)
    exit 0
  fi
done
echo "no dataset root found (tried: ${candidates[*]}); set CONVPT_DATA_ROOT" >&2
exit 1
