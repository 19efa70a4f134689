//! lapse.toml provider tables end to end: the real binary scans the org a `[github]` table names
//! (served by wiremock), and an unknown `[azure]` key stops the run with exit 2 naming its line.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn lapse_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    // No token from the developer's shell, no ./lapse.toml or .git from the crate root.
    cmd.current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env("NO_COLOR", "1");
    cmd
}

fn secret(name: &str) -> Value {
    json!({"name": name, "created_at": "2024-01-02T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
           "visibility": "all"})
}

/// An org with two Actions secrets and no repositories; every other endpoint is a 404 (a gap).
async fn acme(server: &MockServer) {
    let routes = [
        (
            "/orgs/acme/actions/secrets",
            json!({"total_count": 2, "secrets": [secret("DEPLOY_KEY"), secret("NPM_TOKEN")]}),
        ),
        ("/orgs/acme/repos", json!([])),
    ];
    for (route, body) in routes {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_table_alone_scans_its_orgs() {
    let server = MockServer::start().await;
    acme(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[scan]\nfail_on = \"never\"\nallow_incomplete = true\n\n[github]\norgs = [\"acme\"]\n\
         api_url = \"{}\"\nmax_rate_limit_wait_secs = 1\n",
        server.uri()
    );
    std::fs::write(dir.path().join("lapse.toml"), config).unwrap();
    let mut cmd = lapse_in(dir.path());
    cmd.args(["scan", "--quiet", "--format", "json", "--out", "out"]);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("out/lapse-report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report["inventory"]["credentials"]["github.actions_secret"],
        json!(2),
        "{}",
        report["inventory"]
    );
    let scopes: Vec<&Value> = report["scan"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["scope"])
        .collect();
    assert_eq!(scopes, vec![&json!("acme")]);
}

#[test]
fn unknown_azure_key_is_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[scan]\nfail_on = \"high\"\n\n[azure]\ntenant = \"contoso.onmicrosoft.com\"\nsubscription = [\"x\"]\n";
    std::fs::write(dir.path().join("lapse.toml"), config).unwrap();
    let output = lapse_in(dir.path())
        .args(["scan", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lapse.toml:6: [azure] unknown field `subscription`"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("out").exists(),
        "nothing is scanned or written"
    );
}
