#!/usr/bin/env bash
# Scan benchmark: time and peak memory of `lapse scan` (parse + analyze + evaluate + JSON + HTML)
# on seeded synthetic estates (two accounts under an organization with SCPs, boundaries on a
# tenth of the principals, :root trusts, AssumeRole on role/* and *, PassRole, role cycles). Needs hyperfine and GNU time (apt-get install hyperfine time).
#
#   benches/scan.sh            # 10k users, and 100k users + 100k roles + 50k policies
#   SIZES="small" benches/scan.sh
#   INSTRUCTIONS=1 SIZES=small benches/scan.sh   # also: instructions executed (valgrind)
#
# Wall time on a shared 2-core VM drifts by a quarter from one minute to the next; the count
# of instructions executed does not, so it is the figure to compare two versions by (about a
# minute under callgrind for the small estate; apt-get install valgrind). Valgrind hides the
# CPU's SHA extensions, so SHA-256 (fingerprints, selector digests) counts several times what
# it costs on the hardware. For a profile with symbols: `cargo build --profile profiling` (the
# release build with line tables, unstripped) and `perf record -e cpu-clock --call-graph dwarf`
# on target/profiling/lapse (hardware counters are often not exposed on these VMs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lapse/target}"
WORK="${BENCH_DIR:-/tmp/lapse-bench}"
cargo build --release --quiet --bin lapse --example gen_estate
BIN="$CARGO_TARGET_DIR/release/lapse"
GEN="$CARGO_TARGET_DIR/release/examples/gen_estate"

run() {
  local name=$1; shift
  local dir="$WORK/$name"
  [ -f "$dir/authorization-details.json" ] || "$GEN" "$@" --out "$dir"
  [ -d "$dir/organizations" ] || { echo "$dir was written by an older generator: remove it" >&2; exit 2; }
  local cmd="$BIN scan --aws-authorization-details $dir/authorization-details.json --aws-authorization-details $dir/list-roles.json --aws-credential-report $dir/credential-report.csv --aws-organizations $dir/organizations --as-of 2026-11-20T00:00:00Z --fail-on never --quiet --out $dir/out"
  echo "== $name ($*): input $(du -sh "$dir/authorization-details.json" | cut -f1)"
  hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$dir/hyperfine.json" "$cmd > /dev/null"
  /usr/bin/time -v $cmd > /dev/null 2> "$dir/time.txt"
  grep -E "Maximum resident set size|Elapsed" "$dir/time.txt"
  if [ -n "${INSTRUCTIONS:-}" ]; then
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" $cmd > /dev/null 2> "$dir/callgrind.log"
    echo "instructions: $(callgrind_annotate "$dir/callgrind.out" | grep 'PROGRAM TOTALS')"
  fi
  ls -la "$dir/out"
}

for size in ${SIZES:-small large}; do
  case $size in
    small) run users-10k --users 10000 --roles 0 --policies 1000 ;;
    large) run estate-100k --users 100000 --roles 100000 --policies 50000 ;;
  esac
done
