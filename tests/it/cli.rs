//! The binary end to end on the offline demo estate: exit codes, reports, the saved-inventory
//! round trip, the gate, bad input. Runs the real `lapse` binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const AS_OF: &str = "2026-11-20T00:00:00Z";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn estate() -> PathBuf {
    repo_root().join("examples/estate")
}

pub fn lapse() -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// `lapse scan` of the demo estate into `out`, with extra arguments.
fn scan_demo(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    scan_demo_to(out, &out.join("out"), extra)
}

fn scan_demo_to(cwd: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let estate = estate();
    let mut cmd = lapse();
    cmd.current_dir(cwd)
        .arg("scan")
        .arg("--aws-authorization-details")
        .arg(&estate)
        .arg("--aws-credential-report")
        .arg(estate.join("credential-report.csv"))
        .args(["--as-of", AS_OF, "--quiet", "--out"])
        .arg(out)
        .args(extra);
    cmd.assert()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fingerprints(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["fingerprint"].as_str().expect("fingerprint").to_string())
        .collect()
}

fn rules_fired(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["rule_id"].as_str().expect("rule_id").to_string())
        .collect()
}

#[test]
fn demo_scan_fails_the_gate_and_writes_both_reports() {
    let dir = tempfile::tempdir().unwrap();
    let assert = scan_demo(dir.path(), &[]).code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("critical"),
        "summary names severities: {stdout}"
    );
    let report = read_json(&dir.path().join("out/lapse-report.json"));
    assert_eq!(
        report["scan"]["coverage_gaps"].as_array().map(Vec::len),
        Some(0)
    );
    let html = std::fs::read_to_string(dir.path().join("out/lapse-report.html")).unwrap();
    assert!(
        html.contains("ci-deploy"),
        "identities appear in the HTML report"
    );
    // Links to references are fine; nothing may be *loaded* from the network.
    for remote in [
        "src=\"http",
        "src='http",
        "@import",
        "url(http",
        "<link rel=\"stylesheet\" href=\"http",
    ] {
        assert!(
            !html.contains(remote),
            "the HTML report loads nothing remote ({remote})"
        );
    }
}

#[test]
fn every_builtin_aws_rule_fires_on_the_demo_estate() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
    let report = read_json(&dir.path().join("out/lapse-report.json"));
    let fired = rules_fired(&report);
    let listed = lapse().args(["rules", "list", "--json"]).assert().success();
    let rules: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    let aws_rules: Vec<String> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"].as_str().unwrap().starts_with("AWS-"))
        .filter(|r| r["status"] != "removed")
        // Joins a repository scan with the account: the demo estate has no repository
        // (`leaked::` tests it, live and offline).
        .filter(|r| r["id"] != "AWS-020")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(aws_rules.len() >= 17, "the AWS catalogue: {aws_rules:?}");
    let missing: Vec<&String> = aws_rules.iter().filter(|id| !fired.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "rules the demo estate never triggers: {missing:?}"
    );
}

#[test]
fn demo_estate_judges_look_alikes_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
    let report = read_json(&dir.path().join("out/lapse-report.json"));
    let hits = |rule: &str, name: &str| {
        report["findings"].as_array().unwrap().iter().any(|f| {
            let resource = f["resource"]["name"].as_str().unwrap_or_default();
            // Keys are named after their user ("new-integration access key 1").
            f["rule_id"] == rule && (resource == name || resource.starts_with(&format!("{name} ")))
        })
    };
    // Admin held permanently by a machine; a human admin and a fenced admin are not that.
    assert!(hits("AWS-007", "ci-deploy"));
    assert!(
        !hits("AWS-007", "alice"),
        "a console user is not a machine identity"
    );
    assert!(
        !hits("AWS-007", "fenced-admin"),
        "Allow *:* + Deny *:* is not admin"
    );
    // Expired provisional grants, and a future one left alone.
    assert!(hits("AWS-016", "contractor-temp"));
    assert!(hits("AWS-016", "incident-responder"));
    assert!(!hits("AWS-016", "oncall-breakglass"));
    assert!(
        hits("AWS-017", "legacy-etl"),
        "an unreadable marker is a finding"
    );
    // GitHub OIDC: unbound and org-wide trusts fire, a trust bound to one repo does not.
    assert!(hits("AWS-012", "github-deploy-unbound"));
    assert!(hits("AWS-012", "github-deploy-org-wide"));
    assert!(!hits("AWS-012", "github-deploy-app"));
    // Key never used: past the grace period fires, inside it does not.
    assert!(hits("AWS-003", "new-integration"));
    assert!(!hits("AWS-003", "fresh-bot"));
}

#[test]
fn saved_inventory_evaluates_to_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
    let estate = estate();
    let inventory = dir.path().join("inv.json");
    lapse()
        .arg("collect")
        .arg("--aws-authorization-details")
        .arg(&estate)
        .arg("--aws-credential-report")
        .arg(estate.join("credential-report.csv"))
        .arg("--save")
        .arg(&inventory)
        .assert()
        .code(0);
    lapse()
        .arg("evaluate")
        .arg(&inventory)
        .args(["--as-of", AS_OF, "--fail-on", "never", "--out"])
        .arg(dir.path().join("offline"))
        .assert()
        .code(0);
    let live = read_json(&dir.path().join("out/lapse-report.json"));
    let offline = read_json(&dir.path().join("offline/lapse-report.json"));
    assert!(!fingerprints(&live).is_empty());
    assert_eq!(fingerprints(&live), fingerprints(&offline));
}

#[test]
fn baseline_gate_counts_only_new_findings() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
    let baseline = dir.path().join("baseline.json");
    std::fs::copy(dir.path().join("out/lapse-report.json"), &baseline).unwrap();
    scan_demo(
        dir.path(),
        &["--fail-on", "low", "--baseline", baseline.to_str().unwrap()],
    )
    .code(0);
    // A baseline that misses one finding makes exactly that one new, and the gate fails.
    let mut old = read_json(&baseline);
    let findings = old["findings"].as_array_mut().unwrap();
    let dropped = findings
        .iter()
        .position(|f| f["severity"] == "critical")
        .expect("a critical finding");
    findings.remove(dropped);
    std::fs::write(&baseline, serde_json::to_vec(&old).unwrap()).unwrap();
    scan_demo(
        dir.path(),
        &[
            "--fail-on",
            "critical",
            "--baseline",
            baseline.to_str().unwrap(),
        ],
    )
    .code(1);
}

#[test]
fn fail_on_threshold_decides_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "critical"]).code(1);
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
}

#[test]
fn as_of_in_the_future_expires_more_grants() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
    let now = read_json(&dir.path().join("out/lapse-report.json"));
    let later = tempfile::tempdir().unwrap();
    let estate = estate();
    lapse()
        .arg("scan")
        .arg("--aws-authorization-details")
        .arg(&estate)
        .arg("--aws-credential-report")
        .arg(estate.join("credential-report.csv"))
        .args([
            "--as-of",
            "2026-12-31T00:00:00Z",
            "--fail-on",
            "never",
            "--out",
        ])
        .arg(later.path())
        .assert()
        .code(0);
    let next_month = read_json(&later.path().join("lapse-report.json"));
    let expired = |r: &Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule_id"] == "AWS-016")
            .count()
    };
    assert!(
        expired(&next_month) > expired(&now),
        "oncall-breakglass and release-approver lapse by then"
    );
}

fn assert_input_error(assert: assert_cmd::assert::Assert, needle: &str) {
    let assert = assert.code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains(needle),
        "stderr should name {needle:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
}

#[test]
fn truncated_authorization_details_is_an_input_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(estate().join("authorization-details-page-1.json")).unwrap();
    let broken = dir.path().join("truncated.json");
    std::fs::write(&broken, &text[..text.len() / 2]).unwrap();
    assert_input_error(
        lapse()
            .arg("scan")
            .arg("--aws-authorization-details")
            .arg(&broken)
            .arg("--out")
            .arg(dir.path())
            .assert(),
        "truncated.json",
    );
}

#[test]
fn credential_report_with_a_wrong_header_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    std::fs::write(
        &report,
        "user,arn,created\nalice,arn:aws:iam::1:user/alice,2020-01-01\n",
    )
    .unwrap();
    assert_input_error(
        lapse()
            .arg("scan")
            .arg("--aws-authorization-details")
            .arg(estate())
            .arg("--aws-credential-report")
            .arg(&report)
            .arg("--out")
            .arg(dir.path())
            .assert(),
        "report.csv",
    );
}

#[test]
fn unknown_config_key_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lapse.toml");
    std::fs::write(&config, "[scan]\nfail_on = \"high\"\nfial_on = \"low\"\n").unwrap();
    assert_input_error(
        lapse()
            .current_dir(dir.path())
            .arg("scan")
            .arg("--aws-authorization-details")
            .arg(estate())
            .assert(),
        "lapse.toml:3",
    );
}

#[test]
fn rule_file_with_a_typo_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("my-rules");
    std::fs::create_dir(&rules).unwrap();
    let builtin =
        std::fs::read_to_string(repo_root().join("rules/unrotated/AWS-001.toml")).unwrap();
    let mine = builtin
        .replacen("id = \"AWS-001\"", "id = \"ACME-001\"", 1)
        .replacen("severity", "severty", 1);
    let line = mine.lines().position(|l| l.starts_with("severty")).unwrap() + 1;
    std::fs::write(rules.join("ACME-001.toml"), mine).unwrap();
    assert_input_error(
        lapse()
            .arg("rules")
            .arg("list")
            .arg("--rules")
            .arg(&rules)
            .assert(),
        &format!("ACME-001.toml:{line}"),
    );
}

#[test]
fn bad_as_of_and_missing_source_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_input_error(
        lapse()
            .arg("scan")
            .arg("--aws-authorization-details")
            .arg(estate())
            .args(["--as-of", "yesterday"])
            .assert(),
        "RFC 3339",
    );
    assert_input_error(
        lapse().current_dir(dir.path()).arg("scan").assert(),
        "no source",
    );
}

#[test]
fn init_writes_a_config_that_scan_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    lapse().current_dir(dir.path()).arg("init").assert().code(0);
    let written = std::fs::read_to_string(dir.path().join("lapse.toml")).unwrap();
    assert!(written.contains("[[suppressions]]"));
    lapse().current_dir(dir.path()).arg("init").assert().code(2);
    lapse()
        .current_dir(dir.path())
        .arg("rules")
        .arg("explain")
        .arg("AWS-001")
        .assert()
        .code(0)
        .stdout(predicates::str::contains("max_age_days"));
}

#[test]
fn merge_joins_shard_reports_and_refuses_mixed_instants() {
    let dir = tempfile::tempdir().unwrap();
    scan_demo(dir.path(), &["--fail-on", "never"]).code(0);
    let full = read_json(&dir.path().join("out/lapse-report.json"));
    // A second "shard" that judged the same estate without AWS-007: the union is the full set.
    let config = dir.path().join("partial.toml");
    std::fs::write(&config, "[rules.AWS-007]\nenabled = false\n").unwrap();
    let partial_out = dir.path().join("partial");
    scan_demo_to(
        dir.path(),
        &partial_out,
        &["--fail-on", "never", "--config", config.to_str().unwrap()],
    )
    .code(0);
    let partial = read_json(&partial_out.join("lapse-report.json"));
    assert!(fingerprints(&partial).len() < fingerprints(&full).len());
    let merged_out = dir.path().join("merged");
    lapse()
        .arg("merge")
        .arg(partial_out.join("lapse-report.json"))
        .arg(dir.path().join("out/lapse-report.json"))
        .arg("--out")
        .arg(&merged_out)
        .assert()
        .code(0);
    let merged = read_json(&merged_out.join("lapse-report.json"));
    assert_eq!(fingerprints(&merged), fingerprints(&full));
    assert_eq!(merged["summary"]["total"], full["summary"]["total"]);

    let later = dir.path().join("later");
    lapse()
        .arg("scan")
        .arg("--aws-authorization-details")
        .arg(estate())
        .args([
            "--as-of",
            "2027-01-01T00:00:00Z",
            "--fail-on",
            "never",
            "--allow-incomplete",
            "--out",
        ])
        .arg(&later)
        .assert()
        .code(0);
    assert_input_error(
        lapse()
            .arg("merge")
            .arg(dir.path().join("out/lapse-report.json"))
            .arg(later.join("lapse-report.json"))
            .assert(),
        "--as-of",
    );
}

/// Secret values a scan reads must never reach any output: reports of every format, the saved
/// inventory, stdout, stderr, debug logs. At most the last four characters may appear.
#[test]
fn a_canary_secret_never_appears_in_any_output() {
    const CANARY_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/CANARYxSeCrEt7Q2vX";
    const CANARY_TOKEN: &str = "ghp_CANARY0123456789abcdefghijklmnopqrst";
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("settings.env"),
        format!("aws_secret_access_key = \"{CANARY_SECRET}\"\nGITHUB_TOKEN={CANARY_TOKEN}\n"),
    )
    .unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    let out = tempfile::tempdir().unwrap();
    let scan = lapse()
        .env("RUST_LOG", "debug")
        .arg("scan")
        .arg("--repo")
        .arg(repo.path())
        .args([
            "--format",
            "json,html,sarif,ocsf,csv,markdown,parquet",
            "--fail-on",
            "never",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .code(0);
    let inventory = out.path().join("inventory.json");
    let collect = lapse()
        .env("RUST_LOG", "debug")
        .arg("collect")
        .arg("--repo")
        .arg(repo.path())
        .arg("--save")
        .arg(&inventory)
        .assert()
        .code(0);
    let report = read_json(&out.path().join("lapse-report.json"));
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "REPO-006"),
        "the canary is found (else this test proves nothing)"
    );
    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("scan stdout".into(), scan.get_output().stdout.clone()),
        ("scan stderr".into(), scan.get_output().stderr.clone()),
        ("collect stderr".into(), collect.get_output().stderr.clone()),
    ];
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        outputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(
        outputs.len() >= 10,
        "every format was written: {}",
        outputs.len()
    );
    for (name, bytes) in outputs {
        let text = String::from_utf8_lossy(&bytes);
        for canary in [CANARY_SECRET, CANARY_TOKEN] {
            // Any eight consecutive characters beyond the last four would be a leak.
            let body = &canary[..canary.len() - 4];
            for window in body.as_bytes().windows(8) {
                let piece = std::str::from_utf8(window).unwrap();
                assert!(
                    !text.contains(piece),
                    "{name} leaks part of a secret: {piece}"
                );
            }
        }
    }
}
