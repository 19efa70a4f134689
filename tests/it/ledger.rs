//! The grants ledger at load: a target that could reach another path is refused with file:line
//! (exit 2) before any plan prints, and no request leaves lapse; user durations are bounded.

use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cli::lapse;

fn line(target: &str) -> String {
    format!(
        "{{\"provider\":\"github\",\"kind\":\"actions_secret\",\"target\":\"{target}\",\"expires_at\":\"2020-01-01T00:00:00Z\"}}\n"
    )
}

#[test]
fn a_ledger_target_with_dot_segments_is_refused_before_any_request() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(204))
            .expect(0)
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    for bad in ["acme/../X", "acme/%2e%2e/X", "acme//X", "acme/api/X/extra"] {
        let ledger = dir.path().join("grants.jsonl");
        std::fs::write(&ledger, format!("{}{}", line("acme/api/OK"), line(bad))).unwrap();
        let out = lapse()
            .current_dir(dir.path())
            .env("GITHUB_TOKEN", "test-token")
            .args(["revoke", "--apply", "--ledger"])
            .arg(&ledger)
            .arg("--journal")
            .arg(dir.path().join("j.jsonl"))
            .args(["--github-api-url", &server.uri()])
            .assert()
            .code(2);
        let output = out.get_output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("grants.jsonl:2:"), "{bad}: {stderr}");
        assert!(output.stdout.is_empty(), "{bad}: a plan was printed");
    }
    rt.block_on(server.verify());
    assert!(!dir.path().join("j.jsonl").exists(), "nothing journalled");
}

#[test]
fn grace_is_bounded_instead_of_panicking_mid_apply() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("grants.jsonl");
    std::fs::write(&ledger, line("acme/api/X")).unwrap();
    let out = lapse()
        .current_dir(dir.path())
        .args(["revoke", "--grace", "100000000", "--ledger"])
        .arg(&ledger)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("--grace"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
