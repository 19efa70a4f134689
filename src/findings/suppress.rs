//! Findings, suppressions: applies `[[suppressions]]` from lapse.toml and reports the expired
//! and unmatched ones.
//!
//! A suppression silences one rule on resources whose id (ARN) or name matches its glob, until
//! the end of its `expires` day (UTC). Past that it silences nothing and is reported, so an
//! exception cannot outlive its reason unnoticed; one that matches nothing is reported too.

use globset::{Glob, GlobMatcher};

use super::{Finding, Suppression};
use crate::config::SuppressionConfig;
use crate::inventory::Timestamp;
use crate::report::SuppressionIssue;

/// Marks suppressed findings and returns the suppressions that did not do their job.
pub fn apply(
    findings: &mut [Finding],
    suppressions: &[SuppressionConfig],
    as_of: Timestamp,
) -> Vec<SuppressionIssue> {
    let today = as_of.date_naive();
    let mut issues = Vec::new();
    for config in suppressions {
        if config.expires < today {
            issues.push(issue(config, "expired"));
            continue;
        }
        let Some(matcher) = matcher(&config.resource) else {
            // config.rs validated the glob; a pattern that still fails matches nothing.
            issues.push(issue(config, "unmatched"));
            continue;
        };
        let mut matched = false;
        for finding in findings.iter_mut().filter(|f| f.rule_id == config.rule) {
            if matcher.is_match(&finding.resource.id) || matcher.is_match(&finding.resource.name) {
                matched = true;
                // The first suppression that matches is the one shown.
                if finding.suppressed.is_none() {
                    finding.suppressed = Some(Suppression {
                        reason: config.reason.clone(),
                        owner: config.owner.clone(),
                        expires: config.expires.to_string(),
                    });
                }
            }
        }
        if !matched {
            issues.push(issue(config, "unmatched"));
        }
    }
    issues
}

fn matcher(pattern: &str) -> Option<GlobMatcher> {
    Glob::new(pattern).ok().map(|g| g.compile_matcher())
}

fn issue(config: &SuppressionConfig, problem: &str) -> SuppressionIssue {
    SuppressionIssue {
        rule: config.rule.clone(),
        resource: config.resource.clone(),
        reason: config.reason.clone(),
        owner: config.owner.clone(),
        expires: config.expires.to_string(),
        problem: problem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::findings::{Family, Severity};
    use crate::inventory::{Provider, ResourceRef};

    fn finding(rule: &str, id: &str, name: &str) -> Finding {
        Finding {
            rule_id: rule.into(),
            title: "t".into(),
            family: Family::Unrotated,
            severity: Severity::Medium,
            risk: 50,
            resource: ResourceRef {
                provider: Provider::Aws,
                kind: "access_key".into(),
                id: id.into(),
                name: name.into(),
            },
            principal_id: None,
            principal: None,
            fingerprint: "f".into(),
            evidence: Default::default(),
            remediation: "r".into(),
            location: None,
            suppressed: None,
        }
    }

    fn suppression(rule: &str, resource: &str, expires: (i32, u32, u32)) -> SuppressionConfig {
        SuppressionConfig {
            rule: rule.into(),
            resource: resource.into(),
            reason: "migration to OIDC in progress".into(),
            owner: "platform".into(),
            expires: NaiveDate::from_ymd_opt(expires.0, expires.1, expires.2).unwrap(),
            line: 1,
        }
    }

    fn as_of() -> Timestamp {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn active_suppression_matches_rule_and_glob() {
        let mut findings = vec![
            finding(
                "AWS-001",
                "arn:aws:iam::111122223333:user/ci-deploy",
                "ci-deploy",
            ),
            finding("AWS-001", "arn:aws:iam::111122223333:user/alice", "alice"),
            finding(
                "AWS-002",
                "arn:aws:iam::111122223333:user/ci-deploy",
                "ci-deploy",
            ),
        ];
        let rules = [suppression(
            "AWS-001",
            "arn:aws:iam::*:user/ci-*",
            (2025, 6, 30),
        )];
        let issues = apply(&mut findings, &rules, as_of());
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            findings[0].suppressed.as_ref().map(|s| s.owner.as_str()),
            Some("platform")
        );
        assert!(findings[1].suppressed.is_none(), "other resource");
        assert!(findings[2].suppressed.is_none(), "other rule");
    }

    #[test]
    fn glob_may_match_the_name() {
        let mut findings = vec![finding(
            "AWS-005",
            "arn:aws:iam::1:role/legacy-batch",
            "legacy-batch",
        )];
        let issues = apply(
            &mut findings,
            &[suppression("AWS-005", "legacy-*", (2025, 6, 1))],
            as_of(),
        );
        assert!(issues.is_empty());
        assert!(
            findings[0].suppressed.is_some(),
            "valid through its expiry day"
        );
    }

    #[test]
    fn expired_suppression_no_longer_suppresses_and_is_reported() {
        let mut findings = vec![finding("AWS-001", "arn:aws:iam::1:user/ci", "ci")];
        let issues = apply(
            &mut findings,
            &[suppression("AWS-001", "*", (2025, 5, 31))],
            as_of(),
        );
        assert!(findings[0].suppressed.is_none());
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].problem, "expired");
    }

    #[test]
    fn unmatched_suppression_is_reported() {
        let mut findings = vec![finding("AWS-001", "arn:aws:iam::1:user/ci", "ci")];
        let issues = apply(
            &mut findings,
            &[suppression("AWS-009", "*", (2026, 1, 1))],
            as_of(),
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].problem, "unmatched");
        assert_eq!(issues[0].rule, "AWS-009");
    }
}
