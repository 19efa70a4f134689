//! Drift: `lapse diff` on two written reports (terminal, JSON, exit codes), a report from
//! before credentials were recorded, and a scan's `--baseline`/`--history` enrichment.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use lapse::analyze::Privilege;
use lapse::drift::{self, Drift};
use lapse::findings::Severity;
use lapse::render;
use lapse::report::Report;

use crate::formats::sample;

/// The old run, and a new one where: the IMG finding is resolved, a critical finding on a new
/// user appears, k1 is rotated, k2 removed, k3 added, and PIPE's identity went read → admin.
fn runs() -> (Report, Report) {
    let mut old = sample::report();
    old.scan.coverage_gaps.clear();
    old.identities[2].privilege = Privilege::Read;
    let mut new = sample::report();
    new.scan.coverage_gaps.clear();
    new.scan.as_of = sample::at(8);
    new.findings.remove(1);
    new.findings.push(sample::finding(
        "aws-user-admin",
        Severity::Critical,
        99,
        sample::resource("user", "intruder"),
    ));
    new.credentials = vec![
        sample::credential("k1", sample::at(7)),
        sample::credential("k3", sample::at(7)),
    ];
    (old, new)
}

fn write(dir: &Path, name: &str, report: &Report) -> PathBuf {
    let path = dir.join(name);
    render::json::write(report, &path).unwrap();
    path
}

fn lapse() -> Command {
    Command::cargo_bin("lapse").unwrap()
}

#[test]
fn diff_prints_new_resolved_rotated_and_widened_and_fails_on_new() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = runs();
    let old_path = write(dir.path(), "old.json", &old);
    let new_path = write(dir.path(), "new.json", &new);
    let json_path = dir.path().join("drift.json");
    let output = lapse()
        .current_dir(dir.path())
        .args([
            "diff".as_ref(),
            old_path.as_os_str(),
            new_path.as_os_str(),
            "--json".as_ref(),
            json_path.as_os_str(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("findings: 1 new, 1 resolved, 3 persisting"),
        "{stdout}"
    );
    assert!(
        stdout.contains("credentials: 1 added, 1 removed, 1 rotated; 1 identities widened"),
        "{stdout}"
    );
    assert!(stdout.contains("intruder"), "{stdout}");
    assert!(stdout.contains("read → admin"), "{stdout}");

    let drift: Drift = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(drift.new_findings[0].resource.name, "intruder");
    assert_eq!(drift.resolved_findings[0].resource.name, sample::IMG);
    assert_eq!(drift.credentials_rotated[0].resource.name, "k1");
    assert_eq!(drift.credentials_removed[0].resource.name, "k2");
    assert_eq!(drift.credentials_added[0].resource.name, "k3");
}

#[test]
fn diff_gates_only_on_new_findings_at_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = runs();
    let old_path = write(dir.path(), "old.json", &old);
    let new_path = write(dir.path(), "new.json", &new);
    // The only new finding is critical: `--fail-on critical` fails, and the same report
    // against itself (nothing new, many persisting highs) passes.
    lapse()
        .current_dir(dir.path())
        .args([
            "diff".as_ref(),
            old_path.as_os_str(),
            new_path.as_os_str(),
            "--fail-on".as_ref(),
            "critical".as_ref(),
        ])
        .assert()
        .code(1);
    lapse()
        .current_dir(dir.path())
        .args(["diff".as_ref(), new_path.as_os_str(), new_path.as_os_str()])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("0 new"));
}

#[test]
fn diff_exits_3_when_the_new_report_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = runs();
    let incomplete = sample::report();
    let old_path = write(dir.path(), "old.json", &old);
    let new_path = write(dir.path(), "new.json", &incomplete);
    lapse()
        .current_dir(dir.path())
        .args(["diff".as_ref(), old_path.as_os_str(), new_path.as_os_str()])
        .assert()
        .code(3);
    lapse()
        .current_dir(dir.path())
        .args([
            "diff".as_ref(),
            old_path.as_os_str(),
            new_path.as_os_str(),
            "--allow-incomplete".as_ref(),
            "--fail-on".as_ref(),
            "never".as_ref(),
        ])
        .assert()
        .code(0);
}

#[test]
fn a_report_written_before_credentials_were_recorded_still_compares() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = runs();
    let old_path = write(dir.path(), "old.json", &old);
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&old_path).unwrap()).unwrap();
    document.as_object_mut().unwrap().remove("credentials");
    document["schema_version"] = "1.0.0".into();
    std::fs::write(&old_path, document.to_string()).unwrap();
    let old = render::read_report(&old_path).unwrap();
    assert!(old.credentials.is_empty());
    let drift = drift::compare(&old, &drift::current(&new));
    assert_eq!(drift.new_findings.len(), 1);
    assert_eq!(
        drift.credentials_added.len(),
        2,
        "every credential is new against an old report"
    );
    assert!(drift.credentials_rotated.is_empty());
}

#[test]
fn diff_of_a_missing_or_malformed_report_is_an_input_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"schema_version\": \"1.0.0\",\n \"tool\": 3}").unwrap();
    let output = lapse()
        .current_dir(dir.path())
        .args(["diff".as_ref(), bad.as_os_str(), bad.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.json:2:"), "{stderr}");
}

#[test]
fn a_scan_with_a_baseline_and_history_carries_drift_and_trend() {
    let dir = tempfile::tempdir().unwrap();
    let (old, mut new) = runs();
    let old_path = write(dir.path(), "old.json", &old);
    let history = dir.path().join("history.parquet");
    let mut first = old.clone();
    let pending = drift::command::enrich(&mut first, None, Some(&history));
    pending.unwrap().unwrap().commit().unwrap();
    let baseline = render::read_report(&old_path).unwrap();
    drift::command::enrich(&mut new, Some(&baseline), Some(&history)).unwrap();
    assert_eq!(
        new.history.as_ref().unwrap().points.len(),
        2,
        "the trend holds this run before it is written"
    );
    let drift = new.drift.as_ref().unwrap();
    assert_eq!(drift.new_findings.len(), 1);
    assert_eq!(drift.new_at_or_above(render::v1::Severity::High), 1);
    let trend = new.history.as_ref().unwrap();
    assert_eq!(trend.points.len(), 2);
    assert_eq!(trend.points[1].findings["critical"], 2);
}
