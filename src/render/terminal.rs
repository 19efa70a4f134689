//! Render, terminal: the short summary printed after a scan (counts, top findings, coverage
//! gaps, suppression issues, where the reports went). Provider strings are escaped: an
//! identity name carrying ANSI escapes or newlines must not repaint the user's terminal.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::findings::Severity;
use crate::report::Report;

/// How many findings the summary lists.
const TOP: usize = 10;

/// The summary without the list of written reports.
pub fn summary(report: &Report, color: bool) -> String {
    summary_with_reports(report, color, &[])
}

/// The summary, ending with the paths `render::write_all` returned.
pub fn summary_with_reports(report: &Report, color: bool, written: &[PathBuf]) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    counts(&mut out, report, paint);
    top_findings(&mut out, report, paint);
    coverage_gaps(&mut out, report, paint);
    not_judged(&mut out, report, paint);
    suppression_issues(&mut out, report, paint);
    if !written.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Reports"));
        for path in written {
            let _ = writeln!(out, "  {}", clean(&path.display().to_string()));
        }
    }
    out
}

fn counts(out: &mut String, report: &Report, paint: Paint) {
    let by_severity = report.count_by_severity();
    let total: u64 = by_severity.values().sum();
    let suppressed = report.findings.len() as u64 - total;
    let _ = write!(out, "{} {total} finding", paint.bold("lapse:"));
    if total != 1 {
        out.push('s');
    }
    if suppressed > 0 {
        let _ = write!(out, " ({suppressed} suppressed)");
    }
    let parts: Vec<String> = Severity::ALL
        .iter()
        .map(|s| {
            let n = by_severity.get(s).copied().unwrap_or(0);
            let text = format!("{s} {n}");
            if n > 0 {
                paint.severity(*s, &text)
            } else {
                text
            }
        })
        .collect();
    let _ = writeln!(out, ": {}", parts.join(" · "));
}

fn top_findings(out: &mut String, report: &Report, paint: Paint) {
    let active = report.riskiest_findings();
    if active.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", paint.bold("Top findings"));
    for finding in active.iter().take(TOP) {
        let label = format!("{:<8}", finding.severity.as_str());
        let _ = writeln!(
            out,
            "  {} {:>3}  {}  {} {} {}",
            paint.severity(finding.severity, &label),
            finding.risk,
            clean(&finding.rule_id),
            finding.resource.provider,
            clean(&finding.resource.kind),
            clean(&finding.resource.name),
        );
        let _ = writeln!(out, "               {}", clean(&finding.title));
        if let Some(holder) = &finding.principal {
            let _ = writeln!(out, "               held by {}", clean(&holder.describe()));
        }
    }
    if active.len() > TOP {
        let _ = writeln!(out, "  … and {} more", active.len() - TOP);
    }
}

fn coverage_gaps(out: &mut String, report: &Report, paint: Paint) {
    let gaps = &report.scan.coverage_gaps;
    if gaps.is_empty() {
        return;
    }
    let heading = format!(
        "Coverage gaps: the scan is incomplete ({} gap{})",
        gaps.len(),
        if gaps.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(out, "\n{}", paint.warn(&heading));
    for gap in gaps {
        let _ = write!(
            out,
            "  ! {} {}: {}: {}",
            clean(&gap.source),
            clean(&gap.scope),
            clean(&gap.what),
            clean(&gap.reason)
        );
        if let Some(request) = &gap.request {
            let _ = write!(out, " ({})", clean(request));
        }
        out.push('\n');
    }
}

/// Report-only: a rule that lacked an optional input did not pass, and says what it needs.
fn not_judged(out: &mut String, report: &Report, paint: Paint) {
    if report.scan.not_judged.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{}",
        paint.bold("Not judged (an optional input is missing)")
    );
    for item in &report.scan.not_judged {
        let _ = writeln!(
            out,
            "  - {}: {} subject{} without {}; needs {}",
            clean(&item.rule_id),
            item.subjects,
            if item.subjects == 1 { "" } else { "s" },
            clean(&item.fact),
            clean(&item.needs)
        );
    }
}

fn suppression_issues(out: &mut String, report: &Report, paint: Paint) {
    if report.suppression_issues.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", paint.warn("Suppression issues"));
    for issue in &report.suppression_issues {
        let _ = writeln!(
            out,
            "  ! {} suppression of {} on {} (owner {}, expires {}): {}",
            clean(&issue.problem),
            clean(&issue.rule),
            clean(&issue.resource),
            clean(&issue.owner),
            clean(&issue.expires),
            clean(&issue.reason),
        );
    }
}

/// Makes a provider string safe to print (the one terminal sanitiser, in `text`).
pub use crate::text::terminal as clean;

#[derive(Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn warn(self, text: &str) -> String {
        self.wrap("1;33", text)
    }

    fn severity(self, severity: Severity, text: &str) -> String {
        let code = match severity {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        self.wrap(code, text)
    }
}
