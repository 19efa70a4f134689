//! The journal as evidence: `lapse journal verify | head` on a chain written by the library's
//! `Journal`, every kind of tampering caught and named, and `scan` reading a journal only when
//! one is named (`--journal`), matching its records to the grant they are about.

use std::path::{Path, PathBuf};

use serde_json::Value;

use lapse::revoke::Action;
use lapse::revoke::journal::Event;

use crate::cli::lapse;

const EXPIRED_SECRET: &str = r#"{"provider":"github","kind":"actions_secret","target":"acme/api/DEPLOY","expires_at":"2020-01-01T00:00:00Z"}"#;

fn delete_secret() -> Action {
    Action::GithubDeleteRepoSecret {
        repo: "acme/api".into(),
        secret: "DEPLOY".into(),
    }
}

/// A journal of `n` chained records; with `grant` (its owner), the last one is the `done` of
/// `delete_secret` for the grant of that owner.
fn write_journal(path: &Path, n: usize, grant: Option<&str>) {
    let mut journal = lapse::revoke::Journal::open(path).unwrap();
    for i in 0..n {
        let mut record = journal.record(if i + 1 == n && grant.is_some() {
            Event::Done
        } else {
            Event::Started
        });
        record.grant = Some("acme/api/DEPLOY".into());
        record.provider = Some(lapse::inventory::Provider::Github);
        record.account = grant.map(str::to_string);
        record.action = Some(delete_secret());
        journal.append(&record).unwrap();
    }
}

fn journal_cmd(args: &[&str], file: &Path) -> assert_cmd::assert::Assert {
    lapse()
        .arg("journal")
        .arg(args[0])
        .arg(file)
        .args(&args[1..])
        .assert()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

#[test]
fn verify_names_the_edited_removed_or_swapped_line_and_head_catches_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    write_journal(&path, 5, Some("acme"));
    let ok = journal_cmd(&["verify"], &path).code(0);
    assert!(
        stdout(&ok).contains("chain intact, 5 records"),
        "{}",
        stdout(&ok)
    );
    let head = stdout(&journal_cmd(&["head"], &path).code(0))
        .trim()
        .to_string();
    assert_eq!(head.len(), 64);
    journal_cmd(&["verify", "--head", &head], &path).code(0);

    let original = lines(&path);
    let tampered = |edit: &dyn Fn(&mut Vec<String>), line: usize| {
        let mut changed = original.clone();
        edit(&mut changed);
        rewrite(&path, &changed);
        let out = journal_cmd(&["verify"], &path).code(1);
        let text = stdout(&out);
        assert!(
            text.contains(&format!("journal.jsonl:{line}: chain broken")),
            "{text}"
        );
    };
    // One byte of a middle line (inside the run id, so the line still parses).
    tampered(
        &|l| {
            let at = l[2].find("run_id\":\"").unwrap() + 9;
            let byte = if &l[2][at..at + 1] == "0" { "1" } else { "0" };
            l[2].replace_range(at..at + 1, byte);
        },
        3,
    );
    tampered(&|l| drop(l.remove(2)), 3);
    tampered(&|l| l.swap(1, 2), 2);

    let mut cut = original.clone();
    cut.pop();
    rewrite(&path, &cut);
    journal_cmd(&["verify"], &path).code(0);
    let out = journal_cmd(&["verify", "--head", &head], &path).code(1);
    assert!(stdout(&out).contains("cut short"), "{}", stdout(&out));

    std::fs::write(&path, format!("{}\nnot json\n", original[0])).unwrap();
    let out = journal_cmd(&["verify"], &path).code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("journal.jsonl:2:"), "{stderr}");
}

#[test]
fn a_journal_from_before_the_chain_is_no_chain_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.jsonl");
    std::fs::write(
        &path,
        "{\"ts\":\"2025-01-01T00:00:00Z\",\"run_id\":\"a\",\"event\":\"run_started\"}\n",
    )
    .unwrap();
    let out = journal_cmd(&["verify"], &path).code(0);
    assert!(stdout(&out).contains("no chain"), "{}", stdout(&out));
}

fn scan_revocations(cwd: &Path, ledger: &Path, journal: Option<&Path>) -> Vec<Value> {
    let out = cwd.join("out");
    let mut cmd = lapse();
    cmd.current_dir(cwd)
        .args([
            "scan",
            "--quiet",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--ledger",
        ])
        .arg(ledger)
        .arg("--out")
        .arg(&out);
    if let Some(journal) = journal {
        cmd.arg("--journal").arg(journal);
    }
    cmd.assert().code(0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("lapse-report.json")).unwrap())
            .unwrap();
    report["revocations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn status(view: &[Value]) -> Vec<String> {
    view.iter()
        .map(|r| r["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn scan_trusts_a_journal_only_when_named_and_only_for_its_grant() {
    let dir = tempfile::tempdir().unwrap();
    let ledger: PathBuf = dir.path().join("grants.jsonl");
    std::fs::write(&ledger, format!("{EXPIRED_SECRET}\n")).unwrap();
    // A journal committed to the checkout claims the revocation was performed.
    write_journal(&dir.path().join("lapse-journal.jsonl"), 2, Some("acme"));
    assert_eq!(
        status(&scan_revocations(dir.path(), &ledger, None)),
        ["pending"]
    );
    let named = dir.path().join("lapse-journal.jsonl");
    assert_eq!(
        status(&scan_revocations(dir.path(), &ledger, Some(&named))),
        ["performed"]
    );
    // The same action done in another account does not count for this grant.
    let other = dir.path().join("other.jsonl");
    write_journal(&other, 2, Some("elsewhere"));
    assert_eq!(
        status(&scan_revocations(dir.path(), &ledger, Some(&other))),
        ["pending"]
    );
}
