//! lapse gates itself: the built binary scans this checkout (`--repo`) with the repository's own
//! lapse.toml, as the pull-request workflow does. It must pass because every secret-shaped string
//! it finds sits in a file that a `[[fixtures]]` mark names, and every mark must still match
//! something; a real secret added anywhere else fails this test.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scan(repo: &Path, config: &Path) -> (Option<i32>, Value, String) {
    let out = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("lapse")
        .unwrap()
        .current_dir(repo)
        .args(["scan", "--repo", ".", "--config"])
        .arg(config)
        .args(["--format", "json", "--fail-on", "low", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = std::fs::read_to_string(out.path().join("lapse-report.json"))
        .unwrap_or_else(|e| panic!("no report ({e}); stderr: {stderr}"));
    (
        output.status.code(),
        serde_json::from_str(&report).unwrap(),
        stderr,
    )
}

/// The `path` of each finding not counted because a fixture mark names its file.
fn fixture_paths(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppression"]["owner"] == "fixture")
        .map(|f| f["location"]["path"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn own_checkout_passes_the_gate_because_of_its_fixture_marks() {
    let (code, report, stderr) = scan(root(), &root().join("lapse.toml"));
    let active: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"] == false)
        .map(|f| {
            format!(
                "{} {} {}",
                f["rule_id"], f["location"]["path"], f["location"]["line"]
            )
        })
        .collect();
    assert!(active.is_empty(), "findings outside fixtures: {active:#?}");
    assert_eq!(
        report["suppression_issues"],
        serde_json::json!([]),
        "every fixture mark and suppression must match something"
    );
    let used = fixture_paths(&report);
    assert!(
        used.iter().any(|p| p.starts_with("tests/fixtures/")),
        "{used:?}"
    );
    assert!(used.iter().any(|p| p.starts_with("src/")), "{used:?}");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_real_secret_outside_the_fixtures_still_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("tests/fixtures/repo");
    std::fs::create_dir_all(&fixtures).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    // One key in a fixture folder (marked), the same kind of key in source code (not marked).
    std::fs::write(fixtures.join("app.env"), "KEY=AKIAZ7Q4XJ2LMN5FIXT1\n").unwrap();
    std::fs::write(
        dir.path().join("src/deploy.rs"),
        "const KEY: &str = \"AKIAZ7Q4XJ2LMN5REAL1\";\n",
    )
    .unwrap();
    let config = dir.path().join("lapse.toml");
    std::fs::write(
        &config,
        "[[fixtures]]\npaths = [\"tests/fixtures/**\"]\nreason = \"test data\"\n",
    )
    .unwrap();
    let (code, report, _) = scan(dir.path(), &config);
    assert_eq!(code, Some(1));
    assert_eq!(fixture_paths(&report), vec!["tests/fixtures/repo/app.env"]);
    let active: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"] == false)
        .map(|f| f["location"]["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(active, vec!["src/deploy.rs"]);
}
