//! Drift, terminal view: what `lapse diff` prints. Provider strings go through the terminal
//! renderer's `clean`, so an identity name cannot carry escape sequences to the user's screen.

use std::fmt::Write as _;

use super::{Drift, FindingRef};
use crate::render::terminal::clean;

/// How many findings of each list are printed; the counts are always complete.
const LISTED: usize = 20;

pub fn render_terminal(drift: &Drift) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lapse diff: {} → {}",
        drift.old_as_of.to_rfc3339(),
        drift.new_as_of.to_rfc3339()
    );
    let _ = writeln!(
        out,
        "findings: {} new, {} resolved, {} persisting",
        drift.new_findings.len(),
        drift.resolved_findings.len(),
        drift.persisting_findings.len()
    );
    let _ = writeln!(
        out,
        "credentials: {} added, {} removed, {} rotated; {} identities widened",
        drift.credentials_added.len(),
        drift.credentials_removed.len(),
        drift.credentials_rotated.len(),
        drift.widened.len()
    );
    findings(&mut out, "New findings", "+", &drift.new_findings);
    findings(&mut out, "Resolved findings", "-", &drift.resolved_findings);
    credentials(&mut out, drift);
    widened(&mut out, drift);
    if drift.is_quiet() {
        out.push_str("\nNo drift.\n");
    }
    out
}

fn findings(out: &mut String, heading: &str, mark: &str, list: &[FindingRef]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{heading}");
    for finding in list.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "  {mark} {:<8} {:>3}  {}  {}  {}",
            finding.severity.as_str(),
            finding.risk,
            clean(&finding.rule_id),
            clean(&finding.resource.name),
            clean(&finding.resource.id)
        );
    }
    more(out, list.len());
}

fn credentials(out: &mut String, drift: &Drift) {
    let lines: Vec<String> = drift
        .credentials_added
        .iter()
        .map(|c| {
            format!(
                "  + added    {}  {}",
                clean(&c.resource.kind),
                clean(&c.resource.id)
            )
        })
        .chain(drift.credentials_removed.iter().map(|c| {
            format!(
                "  - removed  {}  {}",
                clean(&c.resource.kind),
                clean(&c.resource.id)
            )
        }))
        .chain(drift.credentials_rotated.iter().map(|r| {
            format!(
                "  ~ rotated  {}  {}  (now {})",
                clean(&r.resource.kind),
                clean(&r.resource.id),
                r.new_rotated_at.date_naive()
            )
        }))
        .collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nCredentials");
    for line in lines.iter().take(LISTED) {
        let _ = writeln!(out, "{line}");
    }
    more(out, lines.len());
}

fn widened(out: &mut String, drift: &Drift) {
    if drift.widened.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nPrivilege widened");
    for w in drift.widened.iter().take(LISTED) {
        let grants: Vec<String> = w.added_grants.iter().map(|g| clean(g)).collect();
        let _ = write!(
            out,
            "  ↑ {} → {}  {}",
            w.old_privilege.as_str(),
            w.new_privilege.as_str(),
            clean(&w.resource.id)
        );
        if !grants.is_empty() {
            let _ = write!(out, "  (+ {})", grants.join(", "));
        }
        out.push('\n');
    }
    more(out, drift.widened.len());
}

fn more(out: &mut String, total: usize) {
    if total > LISTED {
        let _ = writeln!(out, "  … and {} more", total - LISTED);
    }
}
