//! Render, Markdown: writes `lapse-summary.md`, sized and escaped for `$GITHUB_STEP_SUMMARY`
//! and pull-request comments: a counts table, drift counts with a baseline, coverage gaps and
//! the top findings.
//!
//! Every provider string passes `cell`: a `|` cannot split a table cell, `<` cannot open HTML,
//! `[`/`]` cannot form a link, `@` cannot mention a user or team, and a newline cannot end the
//! table. The whole text stays under GitHub's 65,536-character comment limit.

use std::fmt::Write as _;
use std::path::Path;

use super::RenderError;
use crate::findings::Severity;
use crate::report::Report;

pub const FILE_NAME: &str = "lapse-summary.md";
/// Findings listed in the top table.
const TOP: usize = 25;
/// Characters kept of one cell.
const CELL_MAX: usize = 120;
/// GitHub's comment body limit, with room for a caller's own heading.
const BODY_MAX: usize = 60_000;

pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    std::fs::write(path, render(report)).map_err(|e| RenderError::io(path, e))
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    heading(&mut out, report);
    counts(&mut out, report);
    drift(&mut out, report);
    gaps(&mut out, report);
    top(&mut out, report);
    let _ = writeln!(
        out,
        "\n<sub>lapse {} · as of {}</sub>",
        env!("CARGO_PKG_VERSION"),
        report.scan.as_of.to_rfc3339()
    );
    truncate(out)
}

fn heading(out: &mut String, report: &Report) {
    let total = report.active_findings().count();
    let status = if report.is_complete() {
        ""
    } else {
        " (incomplete scan)"
    };
    let _ = writeln!(out, "## lapse: {total} finding{}{status}\n", plural(total));
}

fn counts(out: &mut String, report: &Report) {
    let by_severity = report.count_by_severity();
    out.push_str("| Severity | Findings |\n|---|---:|\n");
    for severity in Severity::ALL {
        let n = by_severity.get(&severity).copied().unwrap_or(0);
        let _ = writeln!(out, "| {} | {n} |", severity.as_str());
    }
    let suppressed = report.findings.len() - report.active_findings().count();
    if suppressed > 0 {
        let _ = writeln!(out, "\n{suppressed} suppressed in lapse.toml.");
    }
}

fn drift(out: &mut String, report: &Report) {
    let Some(drift) = &report.drift else { return };
    let _ = writeln!(
        out,
        "\n**Since the baseline:** {} new, {} resolved, {} persisting findings; \
         {} credentials added, {} removed, {} rotated; {} identities widened.",
        drift.new_findings.len(),
        drift.resolved_findings.len(),
        drift.persisting_findings.len(),
        drift.credentials_added.len(),
        drift.credentials_removed.len(),
        drift.credentials_rotated.len(),
        drift.widened.len()
    );
}

fn gaps(out: &mut String, report: &Report) {
    let gaps = &report.scan.coverage_gaps;
    if gaps.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n> [!WARNING]\n> {} coverage gap{}: the findings are a lower bound.",
        gaps.len(),
        plural(gaps.len())
    );
    for gap in gaps.iter().take(TOP) {
        let _ = writeln!(
            out,
            "> - {} {}: {} ({})",
            cell(&gap.source),
            cell(&gap.scope),
            cell(&gap.what),
            cell(&gap.reason)
        );
    }
}

fn top(out: &mut String, report: &Report) {
    let active = report.riskiest_findings();
    if active.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Top findings\n");
    out.push_str("| Severity | Risk | Rule | Identity | Kind | Resource id | Held by |\n");
    out.push_str("|---|---:|---|---|---|---|---|\n");
    for f in active.iter().take(TOP) {
        let holder = f
            .principal
            .as_ref()
            .map(|h| h.describe())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            f.severity.as_str(),
            f.risk,
            cell(&f.rule_id),
            cell(&f.resource.name),
            cell(&f.resource.kind),
            cell(&f.resource.id),
            cell(&holder)
        );
    }
    if active.len() > TOP {
        let _ = writeln!(
            out,
            "\n…and {} more in the full report.",
            active.len() - TOP
        );
    }
}

/// Escapes a provider string for a GitHub-flavoured Markdown table cell (the one Markdown
/// sanitiser, in `text`).
pub fn cell(text: &str) -> String {
    crate::text::markdown(text, CELL_MAX)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Cuts at a line boundary below the limit, saying so.
fn truncate(text: String) -> String {
    if text.len() <= BODY_MAX {
        return text;
    }
    // Escaping inflates multi-byte text: the limit may fall inside a character.
    let cut = text[..text.floor_char_boundary(BODY_MAX)]
        .rfind('\n')
        .unwrap_or(0);
    let mut out = text[..cut].to_string();
    out.push_str("\n\n…truncated; see the full report.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::{BODY_MAX, cell, truncate};

    #[test]
    fn a_cut_inside_a_multi_byte_character_does_not_panic() {
        // Byte BODY_MAX falls inside an `é`.
        let text = format!("aa{}", "é\n".repeat(BODY_MAX));
        let cut = truncate(text);
        assert!(cut.len() <= BODY_MAX + 64, "{}", cut.len());
        assert!(cut.ends_with("see the full report.\n"));
    }

    #[test]
    fn cells_cannot_break_tables_inject_html_link_or_mention() {
        let escaped = cell("a|b<script>alert(1)</script>[x](https://evil) @org/team\nrow");
        assert!(!escaped.contains('|'), "{escaped}");
        assert!(!escaped.contains('<'), "{escaped}");
        assert!(!escaped.contains('\n'), "{escaped}");
        assert!(!escaped.contains('@'), "{escaped}");
        assert!(escaped.contains("\\[x\\]\\(https\\:"), "{escaped}");
    }

    #[test]
    fn long_cells_are_cut() {
        let escaped = cell(&"a".repeat(500));
        assert_eq!(escaped.chars().count(), 121);
    }
}
