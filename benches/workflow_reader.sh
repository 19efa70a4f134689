#!/usr/bin/env bash
# Workflow reader benchmark: median time to read a workflow of n and 10n one-line jobs (linear
# reading means 10n takes about ten times n), and the 100k-job, ~1.3 MB file that took 64 s with
# the hand-written reader (target: under a second).
#
#   benches/workflow_reader.sh            # n = 10000, 100000 jobs
#   N=5000 benches/workflow_reader.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lapse/target}"
WORK="${BENCH_DIR:-/tmp/lapse-bench-workflows}"
mkdir -p "$WORK"
cargo build --release --quiet --example read_workflow
BIN="$CARGO_TARGET_DIR/release/examples/read_workflow"
N=${N:-10000}

gen() {
  local jobs=$1 out=$2
  { echo "on: push"; echo "permissions: {}"; echo "jobs:";
    seq 1 "$jobs" | sed 's/.*/  j&: {a: b}/'; } > "$out"
}

for jobs in "$N" "$((N * 10))"; do
  gen "$jobs" "$WORK/jobs-$jobs.yml"
  "$BIN" "$WORK/jobs-$jobs.yml" "${RUNS:-5}"
done
/usr/bin/time -v "$BIN" "$WORK/jobs-$((N * 10)).yml" 1 2> "$WORK/time.txt" > /dev/null
grep -E "Maximum resident set size" "$WORK/time.txt"
