//! Expiry markers judged by the rules: a marker too far ahead is standing access in all but
//! name (AWS-017 / AZ-009 / GH-011 fire, AWS-007 judges it as standing), a key that differs
//! from `lapse:expires-at` only in case is unreadable, and revoke plans neither.

use std::path::Path;

use chrono::{TimeZone, Utc};
use lapse::analyze::{AnalysisContext, analyze};
use lapse::config::Config;
use lapse::inventory::{Inventory, Timestamp};

fn as_of() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

fn fixture(rule: &str) -> Inventory {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(rule)
        .join("fires.json");
    lapse::inventory::io::load(&path).unwrap()
}

fn fired(inventory: &Inventory, ctx: &AnalysisContext) -> Vec<String> {
    let set = lapse::rules::load(&[], &Config::default()).unwrap();
    let analysis = analyze(inventory, ctx);
    let eval = lapse::rules::evaluate(&set, &analysis.subjects, ctx.as_of);
    let mut ids: Vec<String> = eval.findings.into_iter().map(|f| f.rule_id).collect();
    ids.sort();
    ids.dedup();
    ids
}

fn tagged_admin(key: &str, value: &str) -> Inventory {
    let mut inventory = fixture("AWS-007");
    inventory.principals[0]
        .tags
        .insert(key.to_string(), value.to_string());
    inventory
}

#[test]
fn a_year_9999_tag_does_not_silence_standing_admin() {
    let ctx = AnalysisContext::at(as_of());
    let ids = fired(
        &tagged_admin("lapse:expires-at", "9999-12-31T00:00:00Z"),
        &ctx,
    );
    assert!(ids.contains(&"AWS-007".to_string()), "{ids:?}");
    assert!(ids.contains(&"AWS-017".to_string()), "{ids:?}");
    // A near miss: a week ahead is provisional.
    let ids = fired(
        &tagged_admin("lapse:expires-at", "2025-06-08T00:00:00Z"),
        &ctx,
    );
    assert!(!ids.contains(&"AWS-007".to_string()), "{ids:?}");
    assert!(!ids.contains(&"AWS-017".to_string()), "{ids:?}");
    // The horizon comes from lapse.toml [scan] max_provisional_days.
    let config = Config::parse(Path::new("l.toml"), "[scan]\nmax_provisional_days = 3\n").unwrap();
    let ctx = AnalysisContext::from_config(as_of(), &config);
    let ids = fired(
        &tagged_admin("lapse:expires-at", "2025-06-08T00:00:00Z"),
        &ctx,
    );
    assert!(ids.contains(&"AWS-007".to_string()), "{ids:?}");
}

#[test]
fn a_marker_key_in_another_case_is_unreadable_not_ignored() {
    let ctx = AnalysisContext::at(as_of());
    let ids = fired(
        &tagged_admin("Lapse:Expires-At", "2025-06-08T00:00:00Z"),
        &ctx,
    );
    assert!(ids.contains(&"AWS-017".to_string()), "{ids:?}");
    assert!(ids.contains(&"AWS-007".to_string()), "{ids:?}");
    let plan = lapse::revoke::plan::plan_in(
        &tagged_admin("LAPSE:EXPIRES-AT", "2020-01-01T00:00:00Z"),
        &ctx,
    );
    assert!(plan.grants.is_empty(), "{:?}", plan.grants);
    assert_eq!(plan.issues.len(), 1);
}

#[test]
fn too_far_markers_are_findings_for_github_and_azure_and_never_planned() {
    let ctx = AnalysisContext::at(as_of());
    let mut github = fixture("GH-011");
    github.credentials[0].name = "hotfix [lapse:expires-at=9999-01-01T00:00:00Z]".into();
    assert!(fired(&github, &ctx).contains(&"GH-011".to_string()));
    let mut azure = fixture("AZ-009");
    for grant in &mut azure.grants {
        if grant.description.is_some() {
            grant.description = Some("temp lapse:expires-at=2030-01-01T00:00:00Z".into());
        }
    }
    assert!(fired(&azure, &ctx).contains(&"AZ-009".to_string()));
    let plan = lapse::revoke::plan::plan_in(&github, &AnalysisContext::at(as_of()));
    assert_eq!(plan.not_yet_expired, 0);
    assert_eq!(plan.issues.len(), 1);
}

#[test]
fn a_ledger_expiry_keeps_its_fraction_of_a_second() {
    let text = r#"{"provider":"github","kind":"actions_secret","target":"acme/api/X","expires_at":"2025-06-01T00:00:00.900Z"}"#;
    let mut inventory = Inventory::new(as_of());
    inventory.ledger = lapse::revoke::ledger::parse(text).unwrap();
    let at = |ms| as_of() + chrono::Duration::milliseconds(ms);
    let plan = lapse::revoke::plan::plan_in(&inventory, &AnalysisContext::at(at(100)));
    assert!(plan.grants.is_empty(), "revoked 800 ms early");
    assert_eq!(plan.not_yet_expired, 1);
    let plan = lapse::revoke::plan::plan_in(&inventory, &AnalysisContext::at(at(900)));
    assert_eq!(plan.grants.len(), 1);
}
