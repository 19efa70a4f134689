//! Rules, documentation: the text of `lapse rules list` (table, `--json`, `--markdown` for the
//! README) and `lapse rules explain ID`, rendered from the rules' own TOML.

use std::fmt::Write as _;

use serde::Serialize;

use super::Rule;

/// One row of `rules list --json`.
#[derive(Serialize)]
struct ListEntry<'a> {
    id: &'a str,
    family: &'a str,
    severity: &'a str,
    status: &'a str,
    enabled: bool,
    title: &'a str,
    applies_to: &'a [String],
    source: &'a str,
}

/// Rules in listing order: by id, so the README table is stable.
fn sorted(rules: &[Rule]) -> Vec<&Rule> {
    let mut list: Vec<&Rule> = rules.iter().collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    list
}

/// A plain-text table: id, family, severity, status, title.
pub fn list_table(rules: &[Rule]) -> String {
    let list = sorted(rules);
    let width = |f: fn(&Rule) -> &str, header: &str| {
        list.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(header.len())
    };
    let id_w = width(|r| &r.id, "ID");
    let fam_w = width(|r| r.family.as_str(), "FAMILY");
    let sev_w = width(|r| r.severity.as_str(), "SEVERITY");
    let status_w = "disabled".len().max("STATUS".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:id_w$}  {:fam_w$}  {:sev_w$}  {:status_w$}  TITLE",
        "ID", "FAMILY", "SEVERITY", "STATUS"
    );
    for rule in list {
        let status = if rule.enabled {
            rule.status.as_str()
        } else {
            "disabled"
        };
        let _ = writeln!(
            out,
            "{:id_w$}  {:fam_w$}  {:sev_w$}  {:status_w$}  {}",
            one_line(&rule.id),
            rule.family.as_str(),
            rule.severity.as_str(),
            status,
            one_line(&rule.title)
        );
    }
    out
}

/// `rules list --json`: an array of rules with their listing fields.
pub fn list_json(rules: &[Rule]) -> Result<String, serde_json::Error> {
    let entries: Vec<ListEntry> = sorted(rules)
        .into_iter()
        .map(|r| ListEntry {
            id: &r.id,
            family: r.family.as_str(),
            severity: r.severity.as_str(),
            status: r.status.as_str(),
            enabled: r.enabled,
            title: &r.title,
            applies_to: &r.applies_to,
            source: &r.source,
        })
        .collect();
    serde_json::to_string_pretty(&entries).map(|mut s| {
        s.push('\n');
        s
    })
}

/// `rules list --markdown`: the README's rule table.
pub fn list_markdown(rules: &[Rule]) -> String {
    let mut out = String::from("| ID | Family | Severity | Status | Title | References |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for rule in sorted(rules) {
        let refs: Vec<String> = rule
            .references
            .iter()
            .map(|r| format!("{} {}", r.framework, r.id))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            md_cell(&rule.id),
            rule.family.as_str(),
            rule.severity.as_str(),
            rule.status.as_str(),
            md_cell(&rule.title),
            md_cell(&refs.join("; "))
        );
    }
    out
}

/// `rules explain ID`: everything an auditor needs about one rule.
pub fn explain(rule: &Rule) -> String {
    let mut out = String::new();
    // A user's rule is data from a shared folder: every line of it is cleaned for the terminal.
    let _ = writeln!(out, "{}: {}", one_line(&rule.id), one_line(&rule.title));
    let _ = writeln!(out);
    let status = if rule.enabled {
        rule.status.as_str()
    } else {
        "disabled in lapse.toml"
    };
    for (label, value) in [
        ("Family", rule.family.as_str().to_string()),
        ("Severity", rule.severity.as_str().to_string()),
        ("Status", status.to_string()),
        ("Applies to", rule.applies_to.join(", ")),
        ("Source", rule.source.clone()),
    ] {
        let _ = writeln!(out, "{label:<11} {}", one_line(&value));
    }
    section(&mut out, "Condition", &rule.condition);
    if !rule.params.is_empty() {
        let params: Vec<String> = rule
            .params
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        section(&mut out, "Parameters", &params.join("\n"));
    }
    section(&mut out, "Why it matters", &rule.docs.rationale);
    section(&mut out, "How to fix", &rule.docs.remediation);
    section(&mut out, "Example", &rule.docs.example);
    if !rule.references.is_empty() {
        let refs: Vec<String> = rule
            .references
            .iter()
            .map(|r| match &r.url {
                Some(url) => format!("{} {} <{}>", r.framework, r.id, url),
                None => format!("{} {}", r.framework, r.id),
            })
            .collect();
        section(&mut out, "References", &refs.join("\n"));
    }
    out
}

fn section(out: &mut String, heading: &str, body: &str) {
    let _ = writeln!(out, "\n{heading}:");
    for line in body.trim().lines() {
        let _ = writeln!(out, "  {}", one_line(line.trim_end()));
    }
}

/// One line of a user's rule text, safe on a terminal.
fn one_line(text: &str) -> String {
    crate::text::terminal(text)
}

/// A Markdown table cell (the one Markdown sanitiser, uncut).
fn md_cell(text: &str) -> String {
    crate::text::markdown(text, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Family, Reference, Severity};
    use crate::rules::{RuleDocs, RuleStatus};

    fn rule(id: &str, title: &str) -> Rule {
        Rule {
            id: id.into(),
            title: title.into(),
            family: Family::Unrotated,
            severity: Severity::Medium,
            status: RuleStatus::Stable,
            applies_to: vec!["aws.access_key".into()],
            condition: "r.age_days != null && r.age_days > params.max_age_days".into(),
            params: [("max_age_days".to_string(), serde_json::json!(90))].into(),
            docs: RuleDocs {
                rationale: "Old keys leak.".into(),
                remediation: "Rotate it.".into(),
                example: "A key 200 days old.".into(),
            },
            references: vec![Reference {
                framework: "CIS".into(),
                id: "1.14".into(),
                url: None,
            }],
            source: "builtin:rules/unrotated/X-1.toml".into(),
            enabled: true,
        }
    }

    #[test]
    fn table_is_sorted_and_aligned() {
        let text = list_table(&[rule("B-2", "second"), rule("A-1", "first")]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID "), "{text}");
        assert!(
            lines[1].starts_with("A-1 ") && lines[2].starts_with("B-2 "),
            "{text}"
        );
    }

    #[test]
    fn markdown_escapes_cells() {
        let text = list_markdown(&[rule("A-1", "a | b <script>")]);
        assert!(text.contains("a &#124; b &lt;script&gt;"), "{text}");
    }

    #[test]
    fn explain_prints_a_custom_rule_without_terminal_escapes() {
        let mut hostile = rule("A-1", "t\x1b]0;owned\x07");
        hostile.docs.rationale = "line\x1b[2J\u{202e}".into();
        hostile.condition = "r.x\x1b[31m".into();
        let text = explain(&hostile);
        assert!(
            !text.contains('\x1b') && !text.contains('\u{202e}'),
            "{text:?}"
        );
    }

    #[test]
    fn explain_has_every_section() {
        let text = explain(&rule("A-1", "t"));
        for needle in [
            "Condition:",
            "max_age_days = 90",
            "Why it matters:",
            "How to fix:",
            "Example:",
            "CIS 1.14",
        ] {
            assert!(text.contains(needle), "missing {needle} in {text}");
        }
    }

    #[test]
    fn json_lists_ids() {
        let text = list_json(&[rule("A-1", "t")]).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["id"], "A-1");
        assert_eq!(parsed[0]["family"], "unrotated");
    }
}
