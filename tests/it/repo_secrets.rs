//! Repository scan, secrets: every credential type of the catalogue finds its synthetic sample
//! and not its near miss; published example and emulator keys and placeholders are not
//! findings; a user's own pattern folder is added with `--secrets DIR` or `[repo] secrets`.

use std::path::Path;

use lapse::collect::repo::catalogue::Catalogue;
use lapse::collect::repo::secrets::Scanner;
use lapse::collect::repo::{RepoOptions, collect_with};
use serde::Deserialize;

use super::repo_workflows::checkout_with;

#[derive(Deserialize)]
struct Samples {
    sample: Vec<Sample>,
    public: Public,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(rename = "type")]
    kind: String,
    fires: String,
    near: String,
}

#[derive(Deserialize)]
struct Public {
    values: Vec<String>,
}

fn samples() -> Samples {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/secrets/samples.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_credential_type_fires_on_its_sample_and_not_on_its_near_miss() {
    let catalogue = Catalogue::load(&[]).unwrap();
    let ids: Vec<String> = catalogue.patterns.iter().map(|p| p.id.clone()).collect();
    assert!(ids.len() >= 60, "{} credential types", ids.len());
    let scanner = Scanner::new(catalogue).unwrap();
    let samples = samples();
    let mut failures = Vec::new();
    for id in &ids {
        if !samples.sample.iter().any(|s| &s.kind == id) {
            failures.push(format!("{id}: no sample"));
        }
    }
    for sample in &samples.sample {
        let found: Vec<String> = scanner
            .scan(&sample.fires)
            .iter()
            .map(|h| h.kind.to_string())
            .collect();
        if !found.contains(&sample.kind) {
            failures.push(format!(
                "{}: sample not found (found {found:?})",
                sample.kind
            ));
        }
        let near: Vec<String> = scanner
            .scan(&sample.near)
            .iter()
            .map(|h| h.kind.to_string())
            .collect();
        if near.contains(&sample.kind) {
            failures.push(format!("{}: near miss found", sample.kind));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn published_examples_emulator_keys_and_placeholders_are_not_findings() {
    let scanner = Scanner::builtin().unwrap();
    for value in samples().public.values {
        let hits = scanner.scan(&value);
        assert!(hits.is_empty(), "{value}: {:?}", hits);
    }
}

const ACME: &str = "[[pattern]]\nid = \"acme_deploy_token\"\ntitle = \"ACME deploy token\"\nregex = '''(?-u:\\b)(acmedt_[a-z0-9]{24})(?-u:\\b)'''\n";

#[test]
fn a_users_pattern_folder_adds_types_without_a_rebuild() {
    let token = format!("acmedt_{}", "q7w2e9r4t1y8u3i6o5p0a2s4");
    let dir = checkout_with(&[("deploy.env", &format!("T={token}\n"))]);
    let patterns = tempfile::tempdir().unwrap();
    std::fs::write(patterns.path().join("acme.toml"), ACME).unwrap();
    let plain = collect_with(dir.path(), &RepoOptions::default()).unwrap();
    assert!(plain.credentials.is_empty());
    let options = RepoOptions {
        secret_dirs: vec![patterns.path().to_path_buf()],
        ..RepoOptions::default()
    };
    let inventory = collect_with(dir.path(), &options).unwrap();
    let kinds: Vec<_> = inventory
        .credentials
        .iter()
        .map(|c| c.attributes["secret_type"].clone())
        .collect();
    assert_eq!(kinds, vec![serde_json::json!("acme_deploy_token")]);

    // The same folder from lapse.toml, relative to it; a broken pattern exits 2 naming it.
    std::fs::create_dir_all(dir.path().join("ci/patterns")).unwrap();
    std::fs::write(dir.path().join("ci/patterns/acme.toml"), ACME).unwrap();
    std::fs::write(
        dir.path().join("ci/lapse.toml"),
        "[repo]\nsecrets = [\"patterns\"]\n",
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("lapse")
        .unwrap()
        .args([
            "scan",
            "--repo",
            ".",
            "--config",
            "ci/lapse.toml",
            "--format",
            "json",
        ])
        .arg("--out")
        .arg(dir.path().join("out"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = std::fs::read_to_string(dir.path().join("out/lapse-report.json"))
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert!(report.contains("acme_deploy_token"));
    assert!(!report.contains("q7w2e9r4t1y8u3i6"));
    std::fs::write(
        dir.path().join("ci/patterns/acme.toml"),
        "[[pattern]]\nid = \"acme\"\ntitle = \"x\"\nregex = '(['\n",
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("lapse")
        .unwrap()
        .args(["scan", "--repo", ".", "--config", "ci/lapse.toml"])
        .arg("--out")
        .arg(dir.path().join("out"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("acme.toml:1"), "{stderr}");
}
