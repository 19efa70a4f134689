#!/usr/bin/env bash
# The GitHub Action's scan step: runs the installed lapse with the action's inputs, records its
# exit code as the `exit-code` output and appends the Markdown summary to the job page. It always
# exits 0 so that the SARIF upload still runs; the action's gate step fails the job afterwards.
#
# Environment (inputs arrive this way, never spliced into the script):
#   LAPSE_BIN        the binary the install step printed (required)
#   LAPSE_ARGS       source arguments, split on blanks (`--repo .`, `--aws`, ...)
#   LAPSE_FAIL_ON    severity threshold
#   LAPSE_BASELINE   an earlier lapse-report.json, or empty
#   LAPSE_OUT        report folder
set -uo pipefail

bin="${LAPSE_BIN:?LAPSE_BIN must name the installed lapse}"
read -r -a source_args <<< "${LAPSE_ARGS:-}"
baseline_args=()
if [ -n "${LAPSE_BASELINE:-}" ]; then baseline_args=(--baseline "$LAPSE_BASELINE"); fi
out="${LAPSE_OUT:-lapse-reports}"
"$bin" --version
"$bin" scan "${source_args[@]}" "${baseline_args[@]}" \
  --fail-on "${LAPSE_FAIL_ON:-high}" --out "$out" \
  --format json,html,sarif,markdown --quiet
code=$?
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "exit-code=$code" >> "$GITHUB_OUTPUT"; fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/lapse-summary.md" ]; then
  cat "$out/lapse-summary.md" >> "$GITHUB_STEP_SUMMARY"
fi
exit 0
