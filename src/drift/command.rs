//! Drift, commands: `lapse diff OLD NEW`, and what a scan with `--baseline` or `--history`
//! adds to its report before rendering.

use std::path::Path;

use anyhow::Context as _;

use super::{Drift, compare, current, history, render_terminal};
use crate::cli::DiffArgs;
use crate::exit::Code;
use crate::findings::Severity;
use crate::plan::{self, GatePlan};
use crate::render::{self, v1};
use crate::report::Report;

/// `lapse diff`: prints the drift, writes it as JSON with `--json`, and gates on new findings
/// (exit 1 at or above `--fail-on`; exit 3 when the new report is incomplete, unless
/// `--allow-incomplete`).
pub fn diff(args: &DiffArgs) -> anyhow::Result<Code> {
    let config = plan::load_config(None)?;
    let gate = plan::gate_plan(&args.gate, &config);
    let old = render::read_report(&args.old)?;
    let new = render::read_report(&args.new)?;
    let drift = compare(&old, &new);
    print!("{}", render_terminal(&drift));
    if let Some(path) = &args.json {
        write_json(&drift, path)?;
    }
    Ok(gate_code(&drift, new.scan.complete, gate))
}

pub fn write_json(drift: &Drift, path: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(drift)?;
    std::fs::write(path, text + "\n").with_context(|| format!("{}: cannot write", path.display()))
}

/// The gate over a drift: only new findings count.
pub fn gate_code(drift: &Drift, complete: bool, gate: GatePlan) -> Code {
    if !complete && !gate.allow_incomplete {
        return Code::Incomplete;
    }
    match gate.fail_on {
        Some(threshold) if drift.new_at_or_above(v1_severity(threshold)) > 0 => Code::Findings,
        _ => Code::Clean,
    }
}

fn v1_severity(severity: Severity) -> v1::Severity {
    severity.into()
}

/// What a scan adds before rendering: the drift from `--baseline`, then the trend from
/// `--history` with this run in it. Call once, before `render::write_all`; commit the returned
/// history write once the reports are written (a run whose reports failed is not recorded).
pub fn enrich(
    report: &mut Report,
    baseline: Option<&v1::Report>,
    history_file: Option<&Path>,
) -> anyhow::Result<Option<history::Pending>> {
    if let Some(old) = baseline {
        report.drift = Some(compare(old, &current(report)));
    }
    let Some(path) = history_file else {
        return Ok(None);
    };
    let (trend, pending) = history::prepare(path, report)?;
    report.history = Some(trend);
    Ok(Some(pending))
}
