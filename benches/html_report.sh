#!/usr/bin/env bash
# Benchmark: the HTML report at 100k findings in headless Chromium (size, time to interactive,
# filter and sort). Prints one line of figures; budgets are 25 MB and 3 s to interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lapse/target}"
export LAPSE_CHROMIUM="${LAPSE_CHROMIUM:-$(command -v chromium)}"
cargo test --test it -- --ignored --nocapture browser::bench_html_report_with_100k_findings 2>&1 \
  | grep -E "^html report|test result|panicked"
