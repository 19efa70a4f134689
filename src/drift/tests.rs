//! Unit tests of `compare` on hand-built v1 reports.

use chrono::{TimeZone, Utc};

use super::*;
use crate::render::v1::{
    Credential, Finding, Identity, Inventory, Privilege, Provider, Resource, Scan, Severity,
    Summary, Tool,
};

fn resource(kind: &str, id: &str) -> Resource {
    Resource {
        provider: Provider::Aws,
        kind: kind.to_string(),
        id: id.to_string(),
        name: id.rsplit('/').next().unwrap_or(id).to_string(),
    }
}

fn finding(fingerprint: &str, severity: Severity, suppressed: bool) -> Finding {
    Finding {
        rule_id: format!("rule-{fingerprint}"),
        title: "t".into(),
        family: v1::Family::Unrotated,
        severity,
        risk: 50,
        resource: resource("user", &format!("arn:aws:iam::1:user/{fingerprint}")),
        principal_id: None,
        principal: None,
        fingerprint: fingerprint.to_string(),
        evidence: BTreeMap::new(),
        remediation: "r".into(),
        location: None,
        suppressed,
        suppression: None,
    }
}

fn credential(id: &str, rotated_day: Option<u32>) -> Credential {
    Credential {
        resource: resource("access_key", id),
        principal_id: None,
        active: true,
        created_at: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
        rotated_at: rotated_day.map(|d| Utc.with_ymd_and_hms(2025, 1, d, 0, 0, 0).unwrap()),
        expires_at: None,
    }
}

fn identity(id: &str, privilege: Privilege, grants: &[&str]) -> Identity {
    Identity {
        resource: resource("role", id),
        scope: "1".to_string(),
        privilege,
        window: "standing".to_string(),
        expires_at: None,
        active_credentials: 0,
        oldest_credential_age_days: None,
        idle_days: None,
        grants: grants.iter().map(|g| g.to_string()).collect(),
        access: "standing".to_string(),
        machine: true,
        provisional_grants: Vec::new(),
        finding_count: 0,
        max_severity: None,
    }
}

fn report(
    day: u32,
    findings: Vec<Finding>,
    credentials: Vec<Credential>,
    identities: Vec<Identity>,
) -> v1::Report {
    let at = Utc.with_ymd_and_hms(2025, 2, day, 0, 0, 0).unwrap();
    v1::Report {
        schema_version: v1::SCHEMA_VERSION.to_string(),
        tool: Tool {
            name: "lapse".into(),
            version: "0".into(),
        },
        scan: Scan {
            started_at: at,
            as_of: at,
            duration_ms: 0,
            sources: vec![],
            api_calls: BTreeMap::new(),
            coverage_gaps: vec![],
            complete: true,
            not_judged: vec![],
        },
        summary: Summary {
            total: 0,
            suppressed: 0,
            by_severity: BTreeMap::new(),
            by_family: BTreeMap::new(),
            machine_access: Default::default(),
        },
        inventory: Inventory::default(),
        identities,
        credentials,
        revocations: vec![],
        suppression_issues: vec![],
        findings,
    }
}

fn fingerprints(list: &[FindingRef]) -> Vec<&str> {
    list.iter().map(|f| f.fingerprint.as_str()).collect()
}

#[test]
fn findings_split_into_new_resolved_and_persisting_by_fingerprint() {
    let old = report(
        1,
        vec![
            finding("a", Severity::High, false),
            finding("b", Severity::Low, false),
        ],
        vec![],
        vec![],
    );
    let new = report(
        2,
        vec![
            finding("b", Severity::Low, false),
            finding("c", Severity::Critical, false),
        ],
        vec![],
        vec![],
    );
    let drift = compare(&old, &new);
    assert_eq!(fingerprints(&drift.new_findings), ["c"]);
    assert_eq!(fingerprints(&drift.resolved_findings), ["a"]);
    assert_eq!(fingerprints(&drift.persisting_findings), ["b"]);
    assert_eq!(drift.new_at_or_above(Severity::High), 1);
    assert_eq!(drift.new_at_or_above(Severity::Critical), 1);
    assert!(!drift.is_quiet());
}

#[test]
fn suppressed_findings_are_neither_new_nor_resolved() {
    let old = report(1, vec![finding("a", Severity::High, false)], vec![], vec![]);
    let new = report(
        2,
        vec![
            finding("a", Severity::High, true),
            finding("z", Severity::High, true),
        ],
        vec![],
        vec![],
    );
    let drift = compare(&old, &new);
    assert!(drift.new_findings.is_empty());
    assert!(drift.resolved_findings.is_empty());
    assert!(drift.persisting_findings.is_empty());
    assert_eq!(drift.new_at_or_above(Severity::Info), 0);
}

#[test]
fn credentials_added_removed_and_rotated_by_id() {
    let old = report(
        1,
        vec![],
        vec![
            credential("k1", Some(1)),
            credential("k2", None),
            credential("k3", Some(5)),
        ],
        vec![],
    );
    let new = report(
        2,
        vec![],
        vec![
            credential("k1", Some(20)),
            credential("k3", Some(5)),
            credential("k4", None),
        ],
        vec![],
    );
    let drift = compare(&old, &new);
    let ids = |list: &[CredentialRef]| {
        list.iter()
            .map(|c| c.resource.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&drift.credentials_added), ["k4"]);
    assert_eq!(ids(&drift.credentials_removed), ["k2"]);
    assert_eq!(
        drift.credentials_rotated.len(),
        1,
        "{:?}",
        drift.credentials_rotated
    );
    let rotation = &drift.credentials_rotated[0];
    assert_eq!(rotation.resource.id, "k1");
    assert_eq!(
        rotation.new_rotated_at,
        Utc.with_ymd_and_hms(2025, 1, 20, 0, 0, 0).unwrap()
    );
}

#[test]
fn a_first_rotation_after_creation_counts_and_an_older_date_does_not() {
    let old = report(
        1,
        vec![],
        vec![credential("k1", None), credential("k2", Some(9))],
        vec![],
    );
    let new = report(
        2,
        vec![],
        vec![credential("k1", Some(3)), credential("k2", Some(2))],
        vec![],
    );
    let drift = compare(&old, &new);
    let rotated: Vec<&str> = drift
        .credentials_rotated
        .iter()
        .map(|r| r.resource.id.as_str())
        .collect();
    assert_eq!(rotated, ["k1"]);
}

#[test]
fn widened_privilege_is_reported_with_the_new_grants() {
    let old = report(
        1,
        vec![],
        vec![],
        vec![
            identity("r1", Privilege::Read, &["ReadOnly"]),
            identity("r2", Privilege::Admin, &[]),
        ],
    );
    let new = report(
        2,
        vec![],
        vec![],
        vec![
            identity("r1", Privilege::Admin, &["ReadOnly", "AdministratorAccess"]),
            identity("r2", Privilege::Write, &[]),
            identity("r3", Privilege::Admin, &[]),
        ],
    );
    let drift = compare(&old, &new);
    assert_eq!(drift.widened.len(), 1);
    assert_eq!(drift.widened[0].resource.id, "r1");
    assert_eq!(drift.widened[0].old_privilege, Privilege::Read);
    assert_eq!(drift.widened[0].new_privilege, Privilege::Admin);
    assert_eq!(drift.widened[0].added_grants, ["AdministratorAccess"]);
}

#[test]
fn identical_runs_are_quiet_and_the_terminal_says_so() {
    let old = report(
        1,
        vec![finding("a", Severity::High, false)],
        vec![credential("k", Some(1))],
        vec![],
    );
    let drift = compare(&old, &old);
    assert!(drift.is_quiet());
    assert_eq!(fingerprints(&drift.persisting_findings), ["a"]);
    assert!(render_terminal(&drift).contains("No drift."));
}

#[test]
fn the_terminal_view_escapes_control_characters_in_names() {
    let old = report(1, vec![], vec![], vec![]);
    let mut evil = finding("e", Severity::High, false);
    evil.resource.name = "x\u{1b}[2Jy".to_string();
    let new = report(2, vec![evil], vec![], vec![]);
    let text = render_terminal(&compare(&old, &new));
    assert!(text.contains("1 new"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn median_handles_even_and_odd_lengths() {
    assert_eq!(history::median(&mut []), None);
    assert_eq!(history::median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(history::median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
}
