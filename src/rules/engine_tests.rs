//! Engine tests on hand-made subjects: firing, null guards, errors as coverage gaps, ordering.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::analyze::{Exposure, Privilege, RiskInputs};
use crate::findings::{Family, Severity};
use crate::inventory::{Provider, ResourceRef};
use crate::rules::{RuleDocs, RuleStatus};

fn rule(id: &str, kind: &str, condition: &str, severity: Severity) -> CompiledRule {
    let rule = Rule {
        id: id.into(),
        title: "Key older than {max_age_days} days".into(),
        family: Family::Unrotated,
        severity,
        status: RuleStatus::Stable,
        applies_to: vec![kind.into()],
        condition: condition.into(),
        params: [("max_age_days".to_string(), json!(90))].into(),
        docs: RuleDocs {
            rationale: "r".into(),
            remediation: "fix it".into(),
            example: "e".into(),
        },
        references: vec![],
        source: "test".into(),
        enabled: true,
    };
    let (program, reads, expr) = crate::rules::condition::compile(condition).unwrap();
    CompiledRule::new(rule, program, reads, expr)
}

fn subject(kind: &str, id: &str, facts: serde_json::Value, scope: Privilege) -> Subject {
    let serde_json::Value::Object(facts) = facts else {
        panic!("facts must be an object")
    };
    Subject {
        kind: kind.into(),
        resource: ResourceRef {
            provider: Provider::Aws,
            kind: kind.trim_start_matches("aws.").into(),
            id: id.into(),
            name: id.rsplit('/').next().unwrap_or(id).into(),
        },
        principal_id: None,
        facts: facts.into(),
        risk: RiskInputs {
            scope,
            window_days: None,
            idle_days: None,
            exposure: Exposure::Internal,
        },
        location: None,
    }
}

fn as_of() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

const AGED: &str = "r.active && r.age_days != null && r.age_days > params.max_age_days";

#[test]
fn fires_with_evidence_and_skips_other_kinds() {
    let rules = RuleSet::new(vec![rule("T-1", "aws.access_key", AGED, Severity::Medium)]);
    let subjects = vec![
        subject(
            "aws.access_key",
            "k/old",
            json!({"active": true, "age_days": 200}),
            Privilege::Write,
        ),
        subject(
            "aws.access_key",
            "k/new",
            json!({"active": true, "age_days": 10}),
            Privilege::Write,
        ),
        subject(
            "aws.user",
            "u/x",
            json!({"active": true, "age_days": 500}),
            Privilege::Write,
        ),
    ];
    let eval = evaluate(&rules, &subjects, as_of());
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    assert_eq!(eval.findings.len(), 1);
    let f = &eval.findings[0];
    assert_eq!(f.resource.id, "k/old");
    assert_eq!(
        &*f.title, "Key older than {max_age_days} days",
        "loader renders titles, not the engine"
    );
    assert_eq!(f.evidence["age_days"], json!(200));
    assert_eq!(f.evidence["active"], json!(true));
    assert_eq!(&*f.remediation, "fix it");
    assert_eq!(
        f.fingerprint,
        crate::findings::fingerprint("T-1", &f.resource, None)
    );
}

#[test]
fn guarded_null_is_false_but_unguarded_null_is_a_gap() {
    let guarded = rule("T-1", "aws.access_key", AGED, Severity::Medium);
    let unguarded = rule(
        "T-2",
        "aws.access_key",
        "r.age_days > params.max_age_days",
        Severity::Low,
    );
    let rules = RuleSet::new(vec![guarded, unguarded]);
    let subjects = vec![subject(
        "aws.access_key",
        "k/unknown",
        json!({"active": true, "age_days": null}),
        Privilege::Read,
    )];
    let eval = evaluate(&rules, &subjects, as_of());
    assert!(eval.findings.is_empty());
    assert_eq!(eval.errors.len(), 1, "{:?}", eval.errors);
    assert_eq!(eval.errors[0].source, "rules");
    assert_eq!(eval.errors[0].scope, "T-2");
    assert_eq!(eval.errors[0].what, "k/unknown");
}

#[test]
fn missing_fact_and_non_boolean_are_gaps() {
    let rules = RuleSet::new(vec![
        rule("T-1", "aws.role", "r.no_such_fact == 1", Severity::Low),
        rule("T-2", "aws.role", "r.age_days", Severity::Low),
    ]);
    let subjects = vec![subject(
        "aws.role",
        "role/a",
        json!({"age_days": 3}),
        Privilege::Read,
    )];
    let eval = evaluate(&rules, &subjects, as_of());
    assert_eq!(eval.errors.len(), 2, "{:?}", eval.errors);
    assert!(
        eval.errors[1].reason.contains("not a boolean"),
        "{:?}",
        eval.errors[1]
    );
}

#[test]
fn now_is_the_as_of_timestamp() {
    let rules = RuleSet::new(vec![rule(
        "T-1",
        "aws.role",
        "r.expires_at != null && timestamp(r.expires_at) < now",
        Severity::High,
    )]);
    let subjects = vec![
        subject(
            "aws.role",
            "role/past",
            json!({"expires_at": "2025-05-01T00:00:00Z"}),
            Privilege::Admin,
        ),
        subject(
            "aws.role",
            "role/future",
            json!({"expires_at": "2025-07-01T00:00:00Z"}),
            Privilege::Admin,
        ),
    ];
    let eval = evaluate(&rules, &subjects, as_of());
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    let ids: Vec<&str> = eval
        .findings
        .iter()
        .map(|f| f.resource.id.as_str())
        .collect();
    assert_eq!(ids, vec!["role/past"]);
}

#[test]
fn findings_sorted_by_risk_then_rule_then_resource() {
    let rules = RuleSet::new(vec![
        rule("T-2", "aws.access_key", AGED, Severity::Low),
        rule("T-1", "aws.access_key", AGED, Severity::Low),
        rule("T-3", "aws.access_key", AGED, Severity::Critical),
    ]);
    let facts = json!({"active": true, "age_days": 400});
    let subjects = vec![
        subject("aws.access_key", "k/b", facts.clone(), Privilege::Read),
        subject("aws.access_key", "k/a", facts, Privilege::Read),
    ];
    let eval = evaluate(&rules, &subjects, as_of());
    let order: Vec<(&str, &str)> = eval
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.resource.id.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("T-3", "k/a"),
            ("T-3", "k/b"),
            ("T-1", "k/a"),
            ("T-1", "k/b"),
            ("T-2", "k/a"),
            ("T-2", "k/b")
        ]
    );
}

#[test]
fn disabled_and_removed_rules_are_not_evaluated() {
    let mut disabled = rule("T-1", "aws.access_key", AGED, Severity::Low);
    disabled.rule.enabled = false;
    let mut removed = rule("T-2", "aws.access_key", AGED, Severity::Low);
    removed.rule.status = RuleStatus::Removed;
    let rules = RuleSet::new(vec![disabled, removed]);
    let subjects = vec![subject(
        "aws.access_key",
        "k",
        json!({"active": true, "age_days": 400}),
        Privilege::Read,
    )];
    assert!(evaluate(&rules, &subjects, as_of()).findings.is_empty());
    assert_eq!(rules.rules().len(), 2, "still listed");
}

#[test]
fn gaps_are_capped_per_rule() {
    let rules = RuleSet::new(vec![rule(
        "T-1",
        "aws.role",
        "r.age_days > 1",
        Severity::Low,
    )]);
    let subjects: Vec<Subject> = (0..50)
        .map(|i| {
            subject(
                "aws.role",
                &format!("role/{i:02}"),
                json!({"age_days": null}),
                Privilege::Read,
            )
        })
        .collect();
    let eval = evaluate(&rules, &subjects, as_of());
    assert_eq!(eval.errors.len(), GAPS_PER_RULE + 1);
    assert!(
        eval.errors.last().unwrap().what.starts_with("30 more"),
        "{:?}",
        eval.errors.last()
    );
}

/// A rule whose condition skips the loader's checks (its size limit refuses the condition
/// below), to reach the interpreter with it.
fn unchecked_rule(id: &str, kind: &str, condition: &str) -> CompiledRule {
    let checked = rule(id, kind, "true", Severity::Low);
    let mut rule = checked.rule;
    rule.condition = condition.into();
    let program = Program::compile(condition).unwrap();
    let expr = cel_parser::Parser::default().parse(condition).unwrap();
    CompiledRule::new(
        rule,
        program,
        crate::rules::condition::Reads::default(),
        expr,
    )
}

#[test]
fn a_panic_inside_the_interpreter_is_a_gap_for_that_rule_and_subject_only() {
    // A million terms of 292 years: chrono's `TimeDelta + TimeDelta` overflows and panics
    // inside cel-interpreter's duration parser.
    let huge = format!(
        "duration('{}') > duration('1s')",
        "9223372036s".repeat(1_000_100)
    );
    let rules = RuleSet::new(vec![
        unchecked_rule("T-1", "aws.role", &huge),
        rule("T-2", "aws.role", "r.age_days > 1", Severity::Low),
    ]);
    let subjects = vec![
        subject(
            "aws.role",
            "role/a",
            json!({"age_days": 3}),
            Privilege::Read,
        ),
        subject(
            "aws.role",
            "role/b",
            json!({"age_days": 5}),
            Privilege::Read,
        ),
    ];
    let eval = evaluate(&rules, &subjects, as_of());
    assert_eq!(eval.findings.len(), 2, "{:?}", eval.findings);
    assert!(eval.findings.iter().all(|f| f.rule_id == "T-2"));
    assert_eq!(eval.errors.len(), 2, "{:?}", eval.errors);
    assert!(
        eval.errors
            .iter()
            .all(|g| g.scope == "T-1" && g.reason.contains("panicked"))
    );
}

/// The built-in rules take the direct path: a change to one of them that leaves it to the
/// interpreter shows here (it costs about a fifth of the evaluation on a large estate).
#[test]
fn the_builtin_conditions_take_the_direct_path() {
    let set = crate::rules::loader::load(&[], &crate::config::Config::default()).unwrap();
    let (mut direct, mut interpreted) = (0, Vec::new());
    for kind in set.by_kind.values() {
        for (&index, fast) in kind.rules.iter().zip(&kind.fast) {
            match fast {
                Some(_) => direct += 1,
                None => interpreted.push(set.rules[index].id.as_str()),
            }
        }
    }
    interpreted.sort_unstable();
    interpreted.dedup();
    // AWS-008's `exists` macro is the interpreter's.
    assert_eq!(interpreted, ["AWS-008"]);
    assert!(direct >= 30, "{direct} rules on the direct path");
}

mod order {
    use proptest::prelude::*;

    use super::*;

    fn finding(risk: u8, rule: &str, id: &str, fingerprint: &str) -> Finding {
        Finding {
            rule_id: rule.into(),
            title: "t".into(),
            family: Family::Unrotated,
            severity: Severity::Medium,
            risk,
            resource: ResourceRef {
                provider: Provider::Aws,
                kind: "user".into(),
                id: id.into(),
                name: id.into(),
            },
            principal_id: None,
            principal: None,
            fingerprint: fingerprint.into(),
            evidence: Default::default(),
            remediation: "r".into(),
            location: None,
            suppressed: None,
        }
    }

    /// The order the findings are documented to have, as a comparison of whole findings.
    fn documented(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.risk
            .cmp(&a.risk)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    }

    fn key(f: &Finding) -> (u8, String, String, String) {
        (
            f.risk,
            f.rule_id.clone(),
            f.resource.id.clone(),
            f.fingerprint.clone(),
        )
    }

    #[test]
    fn permute_follows_every_cycle() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e', 'f'];
        // Cycles (0 2 1), (3 5), (4).
        let mut order = vec![2, 0, 1, 5, 4, 3];
        permute(&mut items, &mut order);
        assert_eq!(items, vec!['c', 'a', 'b', 'f', 'e', 'd']);
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
    }

    proptest! {
        #[test]
        fn findings_sort_as_documented(
            raw in prop::collection::vec((0u8..4, 0u8..3, 0u8..4, 0u8..3), 0..60)
        ) {
            let findings: Vec<Finding> = raw
                .iter()
                .map(|(risk, rule, id, fp)| {
                    let (rule, id, fp) = (format!("R-{rule}"), format!("arn:{id}"), format!("f{fp}"));
                    finding(risk * 25, &rule, &id, &fp)
                })
                .collect();
            let mut expected = findings.clone();
            expected.sort_by(documented);
            let mut sorted = findings;
            sort_findings(&mut sorted);
            let keys: Vec<_> = sorted.iter().map(key).collect();
            let want: Vec<_> = expected.iter().map(key).collect();
            prop_assert_eq!(keys, want);
        }
    }
}
