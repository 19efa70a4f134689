#!/usr/bin/env bash
# Secret scan throughput: `lapse collect --repo` over a large source tree (default the cargo
# registry's sources, not a git checkout, so every file is read), printing files, bytes, MB/s
# (from the inventory's own counters), wall time and peak memory.
#
#   benches/secret_scan.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lapse/target}"
TREE="${1:-$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)}"
OUT="${BENCH_DIR:-/tmp/lapse-bench-secrets}"
mkdir -p "$OUT"
cargo build --release --quiet --bin lapse
BIN="$CARGO_TARGET_DIR/release/lapse"
for run in $(seq 1 "${RUNS:-3}"); do
  /usr/bin/time -v "$BIN" collect --repo "$TREE" --save "$OUT/inv.json" 2> "$OUT/time-$run.txt"
  python3 - "$OUT/inv.json" <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
a = inv["sources"][0]["attributes"]
print(f'{a["files_scanned"]} files, {a["bytes_scanned"] / 1e6:.0f} MB, {a["mb_per_s"]} MB/s, '
      f'{len(inv["credentials"])} hits')
PY
  grep -E "Elapsed|Maximum resident" "$OUT/time-$run.txt"
done
