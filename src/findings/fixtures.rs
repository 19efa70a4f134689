//! Findings, fixture marks: applies `[[fixtures]]` from lapse.toml. A finding located in a file
//! that a mark names (test data with fake keys, pattern examples) stays in every report, marked
//! as not counted with the mark's reason (owner `fixture`, no expiry: test data does not age);
//! a mark that matches no finding is reported as `unmatched`, so it cannot linger after its files
//! are gone and silently cover a new file at the same path.

use super::{Finding, Suppression};
use crate::config::FixtureMark;
use crate::report::SuppressionIssue;

/// The `owner` a fixture mark shows in reports, where a suppression shows a person or team.
pub const OWNER: &str = "fixture";

/// Marks the findings that fixture marks cover and returns the marks that matched nothing.
pub fn apply(findings: &mut [Finding], marks: &[FixtureMark]) -> Vec<SuppressionIssue> {
    let mut issues = Vec::new();
    for mark in marks {
        let mut matched = false;
        for finding in findings.iter_mut() {
            let Some(location) = &finding.location else {
                continue; // a finding with no file (a cloud identity) is never fixture data
            };
            if !mark.covers(&finding.rule_id, &location.path) {
                continue;
            }
            matched = true;
            if finding.suppressed.is_none() {
                finding.suppressed = Some(Suppression {
                    reason: format!("test fixture: {}", mark.reason),
                    owner: OWNER.into(),
                    expires: "never".into(),
                });
            }
        }
        if !matched {
            issues.push(SuppressionIssue {
                rule: if mark.rules.is_empty() {
                    "*".into()
                } else {
                    mark.rules.join(",")
                },
                resource: mark.paths.join(", "),
                reason: mark.reason.clone(),
                owner: OWNER.into(),
                expires: "never".into(),
                problem: "unmatched".into(),
            });
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::findings::{Family, Severity};
    use crate::inventory::{Location, Provider, ResourceRef};

    fn finding(rule: &str, path: Option<&str>) -> Finding {
        Finding {
            rule_id: rule.into(),
            title: "t".into(),
            family: Family::StaticCredential,
            severity: Severity::Critical,
            risk: 100,
            resource: ResourceRef {
                provider: Provider::Repo,
                kind: "hardcoded_secret".into(),
                id: format!("repo:acme/app/{}", path.unwrap_or("-")),
                name: "aws_access_key_id".into(),
            },
            principal_id: None,
            fingerprint: "f".into(),
            evidence: Default::default(),
            remediation: "r".into(),
            location: path.map(|p| Location {
                path: p.into(),
                line: Some(1),
                column: Some(1),
            }),
            suppressed: None,
        }
    }

    fn marks(text: &str) -> Vec<FixtureMark> {
        Config::parse(Path::new("lapse.toml"), text)
            .unwrap()
            .fixtures
    }

    #[test]
    fn marks_findings_in_fixture_files_only() {
        let mut findings = vec![
            finding("REPO-006", Some("tests/fixtures/leaky/app.env")),
            finding("REPO-006", Some("src/deploy.rs")),
            finding("REPO-007", Some("tests/fixtures/leaky/app.env")),
            finding("AWS-001", None),
        ];
        let marks = marks(
            "[[fixtures]]\npaths = [\"tests/fixtures/**\"]\nreason = \"fake keys\"\nrules = [\"REPO-006\"]\n",
        );
        let issues = apply(&mut findings, &marks);
        assert!(issues.is_empty(), "{issues:?}");
        let marked = findings[0].suppressed.as_ref().expect("fixture file");
        assert_eq!(marked.owner, "fixture");
        assert_eq!(marked.reason, "test fixture: fake keys");
        assert!(findings[1].suppressed.is_none(), "outside the mark");
        assert!(
            findings[2].suppressed.is_none(),
            "rule the mark does not name"
        );
        assert!(findings[3].suppressed.is_none(), "no location");
    }

    #[test]
    fn unmatched_mark_is_reported() {
        let mut findings = vec![finding("REPO-006", Some("src/deploy.rs"))];
        let marks = marks(
            "[[fixtures]]\npaths = [\"tests/fixtures/**\", \"docs/*.md\"]\nreason = \"fake keys\"\n",
        );
        let issues = apply(&mut findings, &marks);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].problem, "unmatched");
        assert_eq!(issues[0].resource, "tests/fixtures/**, docs/*.md");
        assert_eq!(issues[0].rule, "*");
        assert!(findings[0].suppressed.is_none());
    }
}
