//! Repository scan, workflow reading: real YAML (flow collections, anchors, aliases, quoted
//! keys) read as GitHub reads it, what GitHub refuses as a coverage gap naming the file, and
//! hostile files that must end as a gap, never as a crash.

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use lapse::analyze::{AnalysisContext, analyze};
use lapse::collect::repo::workflow;
use lapse::config::Config;
use lapse::findings::Finding;
use lapse::inventory::Inventory;
use lapse::rules;

/// A git checkout holding `files` (path, text), every file added to the index.
pub fn checkout_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    dir
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn scan(root: &Path) -> (Inventory, Vec<Finding>) {
    let inventory = lapse::collect::repo::collect(root).expect("scan");
    let ctx = AnalysisContext { as_of: Utc::now() };
    let analysis = analyze(&inventory, &ctx);
    let set = rules::load(&[], &Config::default()).expect("rules");
    let eval = rules::evaluate(&set, &analysis.subjects, ctx.as_of);
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    (inventory, eval.findings)
}

pub fn lines_of(findings: &[Finding], rule: &str) -> Vec<u32> {
    let mut out: Vec<u32> = findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .filter_map(|f| f.location.as_ref().and_then(|l| l.line))
        .collect();
    out.sort();
    out
}

const W: &str = ".github/workflows/w.yml";

#[test]
fn flow_mappings_are_read_as_github_reads_them() {
    let text = "on: {pull_request_target: {types: [opened]}}\n\"permissions\": {contents: write, id-token: write}\njobs:\n  build: {runs-on: ubuntu-latest, steps: [{run: \"echo ${{ secrets.NPM_TOKEN }}\"}]}\n";
    let doc = workflow::read(W, text);
    assert_eq!(doc.unreadable, None);
    assert_eq!(doc.triggers, vec!["pull_request_target"]);
    let perms = doc.permissions.as_ref().expect("permissions");
    assert_eq!(perms.mode, "scoped");
    assert_eq!(perms.write, vec!["contents", "id-token"]);
    assert_eq!(doc.jobs[0].secrets_read, vec!["NPM_TOKEN"]);
    let dir = checkout_with(&[(W, text)]);
    let (_, findings) = scan(dir.path());
    assert_eq!(lines_of(&findings, "REPO-005"), vec![4]);
}

const ANCHORED: &str = "on: push
permissions: {}
jobs:
  staging:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with: &aws
          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
  production:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with: *aws
";

#[test]
fn anchors_and_aliases_keep_the_rest_of_the_file_and_point_at_the_alias() {
    let doc = workflow::read(W, ANCHORED);
    assert_eq!(doc.unreadable, None);
    assert_eq!(doc.jobs.len(), 2);
    let dir = checkout_with(&[(W, ANCHORED)]);
    let (inventory, findings) = scan(dir.path());
    assert!(
        inventory.coverage_gaps.is_empty(),
        "{:?}",
        inventory.coverage_gaps
    );
    // The anchor's own key at line 10, and the alias at line 15.
    assert_eq!(lines_of(&findings, "REPO-003"), vec![10, 15]);
    let through_alias = findings
        .iter()
        .find(|f| f.rule_id == "REPO-003" && f.location.as_ref().and_then(|l| l.line) == Some(15))
        .unwrap();
    assert_eq!(through_alias.evidence["anchor_line"], serde_json::json!(10));
}

#[test]
fn what_github_does_not_run_is_a_gap_naming_the_file() {
    let merge = "on: push\njobs:\n  a: &a {runs-on: x}\n  b:\n    <<: *a\n";
    let multi = "on: push\njobs: {a: {runs-on: x}}\n---\non: push\n";
    for (text, what) in [(merge, "line 5"), (multi, "line 3")] {
        let doc = workflow::read(W, text);
        let reason = doc.unreadable.expect("unreadable");
        assert!(reason.contains(what), "{reason}");
        let dir = checkout_with(&[(W, text)]);
        let (inventory, _) = scan(dir.path());
        assert_eq!(inventory.coverage_gaps.len(), 1);
        assert!(inventory.coverage_gaps[0].what.contains(W));
        assert!(inventory.coverage_gaps[0].reason.contains(what));
    }
}

#[test]
fn a_deeply_nested_file_is_a_gap_not_a_crash() {
    // 9 KB of `- - - … x` aborted the process with a stack overflow.
    let deep = "- ".repeat(4600) + "x\n";
    let doc = workflow::read(W, &deep);
    assert!(doc.unreadable.expect("gap").contains("deeper"));
    let flow = "[".repeat(20_000);
    assert!(workflow::read(W, &flow).unreadable.is_some());
}

#[test]
fn a_billion_laughs_is_a_gap() {
    let mut text = String::from("on: push\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "x{i}: &x{i} [*x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}]\n"
        ));
    }
    text.push_str("jobs:\n  a:\n    steps: *x11\n");
    let doc = workflow::read(W, &text);
    assert!(doc.unreadable.expect("gap").contains("aliases"));
}

mod property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_give_a_workflow_or_a_gap(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let doc = workflow::read(W, &text);
            // Readable means a mapping with `jobs`; anything else says why.
            prop_assert!(doc.unreadable.as_ref().map_or(text.contains("jobs"), |r| !r.is_empty()));
        }

        #[test]
        fn yaml_shaped_text_gives_a_workflow_or_a_gap(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("on: push\n"), Just("jobs:\n"), Just("  a:\n"), Just("    steps:\n"),
                    Just("      - uses: x\n"), Just("- "), Just("&a "), Just("*a"), Just("{"),
                    Just("}"), Just("["), Just("]"), Just(": "), Just("\n"), Just("  "),
                    Just("<<: *a\n"), Just("---\n"), Just("\"k\": v\n"), Just("|\n"), Just("? "),
                    Just("permissions: {contents: write}\n"), Just("#c\n"), Just("'q'"),
                ],
                0..40,
            )
        ) {
            let text: String = parts.concat();
            let doc = workflow::read(W, &text);
            prop_assert!(doc.unreadable.as_ref().map_or(text.contains("jobs"), |r| !r.is_empty()));
        }
    }
}
