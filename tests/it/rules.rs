//! Rules: the built-in catalogue (docs, references, fixtures, unique ids), each rule against its
//! fixtures through analyze + evaluate, loader errors that name file and line, and overrides.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use lapse::analyze::{AnalysisContext, analyze};
use lapse::config::Config;
use lapse::findings::Severity;
use lapse::inventory::Timestamp;
use lapse::rules::{self, RuleSet, loader};

fn as_of() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn builtin() -> RuleSet {
    rules::load(&[], &Config::default()).unwrap_or_else(|e| panic!("built-in rules: {e}"))
}

fn load_with(files: &[(&str, &str)], config_text: Option<&str>) -> Result<RuleSet, String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let config = match config_text {
        Some(text) => Config::parse(Path::new("lapse.toml"), text).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    rules::load(&[dir.path().to_path_buf()], &config).map_err(|e| e.to_string())
}

/// A user rule that passes every check; tests break one thing at a time.
const GOOD: &str = r#"id = "ACME-001"
title = "Key older than {max_age_days} days"
family = "unrotated"
severity = "low"
status = "preview"
applies_to = ["aws.access_key"]
condition = "r.active && r.age_days != null && r.age_days > params.max_age_days"

[params]
max_age_days = 30

[docs]
rationale = "Our policy is 30 days."
remediation = "Rotate it."
example = "A 40-day-old key."
"#;

#[test]
fn catalogue_is_complete() {
    let set = builtin();
    assert!(set.rules().len() >= 17, "{} rules", set.rules().len());
    let mut stems: Vec<&str> = loader::builtin_files()
        .iter()
        .filter_map(|(path, _)| Path::new(path).file_stem()?.to_str())
        .collect();
    let files = stems.len();
    stems.sort();
    stems.dedup();
    assert_eq!(stems.len(), files, "two rule files share an id");
    assert_eq!(files, set.rules().len(), "one file per rule");
    for rule in set.rules() {
        let expected = format!("builtin:rules/{}/{}.toml", rule.family, rule.id);
        assert_eq!(
            rule.source, expected,
            "{}: file must sit in its family's folder",
            rule.id
        );
        assert!(
            !rule.references.is_empty(),
            "{}: no [[references]]",
            rule.id
        );
        for section in [
            &rule.docs.rationale,
            &rule.docs.remediation,
            &rule.docs.example,
        ] {
            assert!(!section.trim().is_empty(), "{}: empty doc section", rule.id);
        }
        assert!(
            !rule.title.contains('{'),
            "{}: title placeholder left: {}",
            rule.id,
            rule.title
        );
        for fixture in ["fires.json", "clean.json"] {
            let path = fixtures().join(&rule.id).join(fixture);
            assert!(
                path.is_file(),
                "{}: missing fixture {}",
                rule.id,
                path.display()
            );
        }
    }
}

#[test]
fn every_rule_fires_on_its_fixture_and_not_on_the_clean_one() {
    let set = builtin();
    let ctx = AnalysisContext::at(as_of());
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in set.rules().iter().filter(|r| r.is_active()) {
        checked += 1;
        for (fixture, should_fire) in [("fires.json", true), ("clean.json", false)] {
            let path = fixtures().join(&rule.id).join(fixture);
            let inventory = lapse::inventory::io::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let analysis = analyze(&inventory, &ctx);
            let eval = rules::evaluate(&set, &analysis.subjects, as_of());
            if !eval.errors.is_empty() {
                failures.push(format!(
                    "{}/{fixture}: evaluation gaps {:?}",
                    rule.id, eval.errors
                ));
            }
            let fired = eval.findings.iter().any(|f| f.rule_id == rule.id);
            if fired != should_fire {
                failures.push(format!("{}/{fixture}: fired = {fired}", rule.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        checked,
        set.rules().len(),
        "every built-in rule is active and checked"
    );
}

#[test]
fn finding_carries_evidence_and_rendered_title() {
    let set = builtin();
    let inventory = lapse::inventory::io::load(&fixtures().join("AWS-001/fires.json")).unwrap();
    let analysis = analyze(&inventory, &AnalysisContext::at(as_of()));
    let eval = rules::evaluate(&set, &analysis.subjects, as_of());
    let finding = eval
        .findings
        .iter()
        .find(|f| f.rule_id == "AWS-001")
        .expect("AWS-001 fires");
    assert_eq!(&*finding.title, "Access key not rotated in 90 days");
    assert_eq!(finding.evidence["age_days"], serde_json::json!(212));
    assert_eq!(finding.evidence["active"], serde_json::json!(true));
    assert!(finding.remediation.contains("aws iam update-access-key"));
    assert!(finding.risk > 0);
}

/// GetAccountAuthorizationDetails alone does not say a role's MaxSessionDuration: unknown is
/// null, and AWS-014 neither fires nor fails on it.
#[test]
fn unknown_max_session_duration_is_not_judged() {
    let set = builtin();
    let mut inventory = lapse::inventory::io::load(&fixtures().join("AWS-014/fires.json")).unwrap();
    for principal in &mut inventory.principals {
        assert!(
            principal
                .attributes
                .remove("max_session_duration")
                .is_some()
        );
    }
    let analysis = analyze(&inventory, &AnalysisContext::at(as_of()));
    let eval = rules::evaluate(&set, &analysis.subjects, as_of());
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    assert!(!eval.findings.iter().any(|f| f.rule_id == "AWS-014"));
    // Not a silent pass: the rule says it did not judge the role, and what it needed.
    let roles = analysis
        .subjects
        .iter()
        .filter(|s| s.kind == "aws.role")
        .count() as u64;
    assert_eq!(eval.not_judged.len(), 1, "{:?}", eval.not_judged);
    let not_judged = &eval.not_judged[0];
    assert_eq!(
        (
            not_judged.rule_id.as_str(),
            not_judged.fact.as_str(),
            not_judged.subjects
        ),
        ("AWS-014", "max_session_duration_secs", roles)
    );
    assert!(not_judged.needs.contains("list-roles"), "{not_judged:?}");
    let role = analysis
        .subjects
        .iter()
        .find(|s| s.kind == "aws.role")
        .expect("the role is still a subject");
    assert_eq!(
        role.facts.get("max_session_duration_secs"),
        Some(serde_json::Value::Null)
    );
}

#[test]
fn user_folder_adds_rules() {
    let set = load_with(&[("acme.toml", GOOD)], None).unwrap();
    let rule = set.get("ACME-001").expect("user rule loaded");
    assert_eq!(rule.title, "Key older than 30 days");
    assert!(rule.source.ends_with("acme.toml"), "{}", rule.source);
}

#[test]
fn typo_field_names_file_and_line() {
    let text = GOOD.replace("severity = \"low\"", "severty = \"low\"");
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(err.contains("acme.toml:4:"), "{err}");
    assert!(err.contains("unknown field `severty`"), "{err}");
}

#[test]
fn condition_that_does_not_compile_names_file_and_line() {
    let text = GOOD.replace(
        "condition = \"r.active && r.age_days != null && r.age_days > params.max_age_days\"",
        "condition = \"\"\"\nr.active &&\n  r.age_days >> 3\"\"\"",
    );
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(err.contains("acme.toml:9:"), "{err}");
    assert!(err.contains("does not compile"), "{err}");
}

#[test]
fn undeclared_param_and_unknown_variable_are_errors() {
    let text = GOOD.replace("params.max_age_days\"", "params.max_age\"");
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(
        err.contains("acme.toml:7:") && err.contains("`params.max_age`"),
        "{err}"
    );
    let text = GOOD.replace("r.active &&", "facts.active &&");
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(err.contains("`facts`"), "{err}");
}

#[test]
fn unknown_kind_and_empty_docs_are_errors() {
    let text = GOOD.replace("aws.access_key", "aws.acess_key");
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(
        err.contains("acme.toml:6:") && err.contains("aws.acess_key"),
        "{err}"
    );
    let text = GOOD.replace("example = \"A 40-day-old key.\"", "example = \"  \"");
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(err.contains("`example` must not be empty"), "{err}");
    let text = GOOD.replace("example = \"A 40-day-old key.\"\n", "");
    let err = load_with(&[("acme.toml", &text)], None).unwrap_err();
    assert!(err.contains("missing field `example`"), "{err}");
}

#[test]
fn id_clashing_with_a_builtin_is_an_error() {
    let text = GOOD.replace("ACME-001", "AWS-001");
    let err = load_with(&[("mine.toml", &text)], None).unwrap_err();
    assert!(
        err.contains("mine.toml:1:") && err.contains("already defined"),
        "{err}"
    );
}

#[test]
fn overrides_change_severity_params_and_enabled() {
    let config = "[rules.AWS-001]\nseverity = \"high\"\nparams = { max_age_days = 30 }\n\n[rules.AWS-004]\nenabled = false\n";
    let set = load_with(&[], Some(config)).unwrap();
    let rule = set.get("AWS-001").unwrap();
    assert_eq!(rule.severity, Severity::High);
    assert_eq!(rule.params["max_age_days"], serde_json::json!(30));
    assert_eq!(rule.title, "Access key not rotated in 30 days");
    assert!(!set.get("AWS-004").unwrap().is_active());
}

#[test]
fn override_errors_name_lapse_toml_and_line() {
    let err = load_with(&[], Some("[scan]\n\n[rules.AWS-999]\nenabled = false\n")).unwrap_err();
    assert!(
        err.contains("lapse.toml:3:") && err.contains("unknown rule id `AWS-999`"),
        "{err}"
    );
    let err = load_with(&[], Some("[rules.AWS-001]\nparams = { max_days = 3 }\n")).unwrap_err();
    assert!(
        err.contains("lapse.toml:1:") && err.contains("unknown parameter `max_days`"),
        "{err}"
    );
    let err = load_with(
        &[],
        Some("[rules.AWS-001]\nparams = { max_age_days = \"ninety\" }\n"),
    )
    .unwrap_err();
    assert!(err.contains("must be an integer"), "{err}");
}

#[test]
fn list_and_explain_render_the_catalogue() {
    let set = builtin();
    let table = rules::explain::list_table(set.rules());
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("AWS-006") && l.contains("critical")),
        "{table}"
    );
    let markdown = rules::explain::list_markdown(set.rules());
    assert_eq!(markdown.lines().count(), set.rules().len() + 2);
    let json: serde_json::Value =
        serde_json::from_str(&rules::explain::list_json(set.rules()).unwrap()).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(set.rules().len()));
    let text = rules::explain::explain(set.get("AWS-012").unwrap());
    for needle in [
        "aws.role",
        "github_oidc_unbound",
        "token.actions.githubusercontent.com:sub",
        "NHI6",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}

#[test]
fn a_folder_named_twice_loads_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme.toml"), GOOD).unwrap();
    let twice = [dir.path().to_path_buf(), dir.path().join(".")];
    let set = rules::load(&twice, &Config::default()).unwrap();
    assert!(set.get("ACME-001").is_some());
}

#[test]
fn binary_reports_a_broken_rule_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = GOOD.replace("severity = \"low\"", "severty = \"low\"");
    std::fs::write(dir.path().join("acme.toml"), text).unwrap();
    let output = assert_cmd::Command::cargo_bin("lapse")
        .unwrap()
        .current_dir(dir.path())
        .args(["rules", "list", "--rules", "."])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("acme.toml:4: unknown field `severty`"),
        "{stderr}"
    );
}

#[test]
fn binary_explains_a_rule_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = assert_cmd::Command::cargo_bin("lapse")
        .unwrap()
        .current_dir(dir.path())
        .args(["rules", "explain", "AWS-006"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("AWS-006: Root account has an access key"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CIS AWS Foundations Benchmark v3.0.0 1.4"),
        "{stdout}"
    );
}

#[test]
fn every_broken_file_is_reported_at_once() {
    let one = GOOD.replace("severity = \"low\"", "severty = \"low\"");
    let two = GOOD
        .replace("ACME-001", "ACME-002")
        .replace("unrotated", "rotten");
    let err = load_with(&[("one.toml", &one), ("two.toml", &two)], None).unwrap_err();
    assert!(
        err.contains("one.toml:4:") && err.contains("two.toml:3:"),
        "{err}"
    );
}
