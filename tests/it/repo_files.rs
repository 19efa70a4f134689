//! Repository scan, which files: git's index decides, never ignore files; untracked files only
//! when asked; a token in the origin URL never reaches a name or an output. Keys are built at run
//! time so that no test source holds one.

use lapse::collect::repo::{RepoOptions, collect_with};

use super::repo_workflows::{checkout_with, git, scan};

fn key(tail: &str) -> String {
    format!("AKIA{}{tail}", "Z7Q4XJ2LMN5")
}

fn flagged_paths(root: &std::path::Path) -> Vec<String> {
    let (inventory, _) = scan(root);
    let mut paths: Vec<String> = inventory
        .credentials
        .iter()
        .filter_map(|c| c.location.as_ref().map(|l| l.path.clone()))
        .collect();
    paths.sort();
    paths
}

#[test]
fn ignore_files_never_hide_a_tracked_file() {
    let outer = tempfile::tempdir().unwrap();
    let files = [
        ("gitignored.env", format!("K={}\n", key("TRK01"))),
        ("dotignored.env", format!("K={}\n", key("TRK02"))),
        ("parent.env", format!("K={}\n", key("TRK03"))),
    ];
    let repo = outer.path().join("repo");
    for (path, text) in &files {
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join(path), text).unwrap();
    }
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    // Ignore rules written after the files were added: the files stay tracked.
    std::fs::write(repo.join(".gitignore"), "gitignored.env\n").unwrap();
    std::fs::write(repo.join(".ignore"), "dotignored.env\n").unwrap();
    std::fs::write(outer.path().join(".ignore"), "parent.env\n").unwrap();
    assert_eq!(
        flagged_paths(&repo),
        vec!["dotignored.env", "gitignored.env", "parent.env"]
    );
}

#[test]
fn untracked_files_only_with_the_flag() {
    let dir = checkout_with(&[("tracked.env", &format!("K={}\n", key("TRK04")))]);
    std::fs::write(
        dir.path().join("untracked.env"),
        format!("K={}\n", key("UNT05")),
    )
    .unwrap();
    assert_eq!(flagged_paths(dir.path()), vec!["tracked.env"]);
    let options = RepoOptions {
        untracked: true,
        ..RepoOptions::default()
    };
    let inventory = collect_with(dir.path(), &options).unwrap();
    let mut paths: Vec<_> = inventory
        .credentials
        .iter()
        .filter_map(|c| c.location.as_ref().map(|l| l.path.clone()))
        .collect();
    paths.sort();
    assert_eq!(paths, vec!["tracked.env", "untracked.env"]);
}

#[test]
fn a_token_in_the_origin_url_never_names_anything() {
    let dir = checkout_with(&[("a.env", &format!("K={}\n", key("TRK06")))]);
    let token = format!("ghp_{}", "Qx7Lm2Rt9Vb4Nc8Kd1Hf6Jg3Sp5Wz0Ye2Ua7");
    // One path segment, as the issue reports: the userinfo used to become the owner.
    let url = format!("https://ci:{token}@git.example.com/app.git");
    git(dir.path(), &["remote", "add", "origin", &url]);
    let (inventory, findings) = scan(dir.path());
    assert!(!inventory.principals[0].name.contains("Qx7Lm2"));
    let text = serde_json::to_string(&(&inventory, &findings)).unwrap();
    assert!(!text.contains("Qx7Lm2"), "the token leaked into the output");
}

fn commit(dir: &std::path::Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            message,
        ],
    );
}

fn head_of(dir: &std::path::Path) -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn history_reports_each_secret_once_with_its_commit_and_whether_head_holds_it() {
    let dir = checkout_with(&[("old.env", &format!("K={}\n", key("HIS01")))]);
    commit(dir.path(), "add a key");
    let first = head_of(dir.path());
    std::fs::remove_file(dir.path().join("old.env")).unwrap();
    std::fs::write(dir.path().join("new.env"), format!("K={}\n", key("HIS02"))).unwrap();
    commit(dir.path(), "replace it");
    let second = head_of(dir.path());
    // The same key kept while the file changes: still one secret.
    std::fs::write(
        dir.path().join("new.env"),
        format!("# rotated soon\nK={}\n", key("HIS02")),
    )
    .unwrap();
    commit(dir.path(), "comment");

    let plain = collect_with(dir.path(), &RepoOptions::default()).unwrap();
    assert_eq!(plain.credentials.len(), 1, "HEAD alone holds one key");

    let options = RepoOptions {
        history: Some(lapse::collect::repo::history::HistoryBound::default()),
        ..RepoOptions::default()
    };
    let inventory = collect_with(dir.path(), &options).unwrap();
    assert!(
        inventory.coverage_gaps.is_empty(),
        "{:?}",
        inventory.coverage_gaps
    );
    let mut seen: Vec<(String, bool, String)> = inventory
        .credentials
        .iter()
        .map(|c| {
            (
                c.location.as_ref().unwrap().path.clone(),
                c.attributes["in_head"].as_bool().unwrap(),
                c.attributes["introduced_in"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("new.env".to_string(), true, second),
            ("old.env".to_string(), false, first),
        ]
    );
    assert_eq!(inventory.sources[0].attributes["history_commits"], 3);

    // Bounded to the last commit: the deleted key's commit is out of reach.
    let options = RepoOptions {
        history: Some(lapse::collect::repo::history::HistoryBound {
            depth: Some(1),
            ..Default::default()
        }),
        ..RepoOptions::default()
    };
    let inventory = collect_with(dir.path(), &options).unwrap();
    assert_eq!(inventory.credentials.len(), 1);
}
