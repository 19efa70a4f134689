//! Repository scan: fixture checkouts (built into git repositories in a temp dir, since fixtures
//! cannot carry `.git`) scanned with no network, through analyze and the built-in rules.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use lapse::analyze::{AnalysisContext, analyze};
use lapse::config::Config;
use lapse::findings::Finding;
use lapse::rules;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repo")
        .join(case)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The fixture as a git checkout with an `origin` remote and every file added, plus what a
/// fixture folder cannot hold: an untracked (`.gitignore`d) file and a binary, both containing
/// a key that must not be reported.
fn checkout(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(case), dir.path());
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output();
        assert!(status.is_ok_and(|o| o.status.success()), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["remote", "add", "origin", "git@github.com:acme/api.git"]);
    std::fs::write(dir.path().join(".gitignore"), "ignored/\n").unwrap();
    std::fs::create_dir_all(dir.path().join("ignored")).unwrap();
    std::fs::write(
        dir.path().join("ignored/local.env"),
        "KEY=AKIAZ7Q4XJ2LMN5IGNR1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("blob.bin"),
        b"\x00\x01AKIAZ7Q4XJ2LMN5BINR1\x00",
    )
    .unwrap();
    // Git's index decides what is scanned: everything not ignored is added.
    git(&["add", "-A"]);
    dir
}

fn findings(root: &Path) -> (lapse::inventory::Inventory, Vec<Finding>) {
    let inventory = lapse::collect::repo::collect(root).expect("scan");
    let ctx = AnalysisContext::at(Utc::now());
    let analysis = analyze(&inventory, &ctx);
    let set = rules::load(&[], &Config::default()).expect("rules");
    let eval = rules::evaluate(&set, &analysis.subjects, ctx.as_of);
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    (inventory, eval.findings)
}

fn at(findings: &[Finding], rule: &str) -> Vec<(String, Option<u32>)> {
    let mut out: Vec<_> = findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| {
            let loc = f
                .location
                .as_ref()
                .expect("workflow and file findings carry a location");
            (loc.path.clone(), loc.line)
        })
        .collect();
    out.sort();
    out
}

const DEPLOY: &str = ".github/workflows/deploy.yml";

#[test]
fn leaky_checkout_yields_workflow_and_secret_findings_with_lines() {
    let dir = checkout("leaky");
    let (inventory, findings) = findings(dir.path());
    let d = DEPLOY.to_string();
    assert_eq!(
        at(&findings, "REPO-001"),
        vec![(d.clone(), Some(2))],
        "no permissions: at `on:`"
    );
    assert_eq!(
        at(&findings, "REPO-002"),
        vec![(".github/workflows/lint.yml".to_string(), Some(3))]
    );
    // Workflow env, configure-aws-credentials keys, azure/login creds, GCP JSON key.
    assert_eq!(
        at(&findings, "REPO-003"),
        vec![
            (d.clone(), Some(6)),
            (d.clone(), Some(15)),
            (d.clone(), Some(19)),
            (d.clone(), Some(22))
        ]
    );
    assert_eq!(at(&findings, "REPO-004"), vec![(d.clone(), Some(25))]);
    assert_eq!(
        at(&findings, "REPO-005"),
        vec![(d.clone(), Some(8)), (d.clone(), Some(25))]
    );
    let app = "config/app.env".to_string();
    assert_eq!(
        at(&findings, "REPO-006"),
        vec![
            (app.clone(), Some(2)),
            (app.clone(), Some(3)),
            (app.clone(), Some(4)),
            (app.clone(), Some(5)),
            ("config/deploy_key.pem".to_string(), Some(1)),
        ]
    );
    assert_eq!(
        at(&findings, "REPO-007"),
        vec![("config/settings.py".to_string(), Some(2))]
    );

    // Ignored and binary files are skipped; no value travels beyond its last four characters.
    let text = serde_json::to_string(&inventory).unwrap();
    for absent in [
        "IGNR1",
        "BINR1",
        "AKIAZ7Q4XJ2LMN5O",
        "wJalrXUtnFEMI",
        "ghp_aB3d",
        "xoxb-7482",
        "Zx8Qp2",
    ] {
        assert!(
            !text.contains(absent),
            "`{absent}` leaked into the inventory"
        );
    }
    let cloud = findings.iter().find(|f| f.rule_id == "REPO-003").unwrap();
    assert!(cloud.remediation.contains("role-to-assume"));
    assert_eq!(
        inventory.principals[0].name, "acme/api",
        "named after the origin remote"
    );
    let run = &inventory.sources[0];
    assert_eq!(run.source, "repo");
    assert!(run.attributes["files_skipped_binary"].as_u64() == Some(1));
    assert!(
        inventory.coverage_gaps.is_empty(),
        "{:?}",
        inventory.coverage_gaps
    );
}

#[test]
fn clean_checkout_has_no_findings() {
    let dir = checkout("clean");
    let (_, findings) = findings(dir.path());
    let ids: Vec<_> = findings.iter().map(|f| (&f.rule_id, &f.location)).collect();
    assert!(findings.is_empty(), "{ids:?}");
}

#[test]
fn missing_folder_is_an_error_not_a_panic() {
    let err = lapse::collect::repo::collect(Path::new("/nonexistent/lapse-repo")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/lapse-repo"));
}

#[test]
fn finds_the_enclosing_checkout() {
    let dir = checkout("clean");
    let nested = dir.path().join(".github/workflows");
    let found = lapse::collect::repo::find_checkout(&nested).unwrap();
    assert_eq!(found, dir.path().canonicalize().unwrap());
}

/// The whole repo scan of the leaky fixture: each finding's rule, severity, file, line and
/// evidence (SARIF `physicalLocation` is built from the same location).
#[test]
fn leaky_checkout_findings_snapshot() {
    let dir = checkout("leaky");
    let (_, findings) = findings(dir.path());
    let mut rows: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let loc = f.location.as_ref().expect("location");
            serde_json::json!({
                "rule": f.rule_id,
                "severity": f.severity.as_str(),
                "path": loc.path,
                "line": loc.line,
                "resource": f.resource.name,
                "evidence": f.evidence,
            })
        })
        .collect();
    rows.sort_by_key(|r| {
        (
            r["path"].as_str().unwrap_or("").to_string(),
            r["line"].as_u64(),
            r["rule"].as_str().unwrap_or("").to_string(),
        )
    });
    insta::assert_json_snapshot!("leaky_checkout_findings", rows);
}
