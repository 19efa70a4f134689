//! Test support for the GitHub end-to-end tests: a wiremock organization whose every list is
//! empty (so a scan of it leaves no coverage gap unless a test mounts one), and a way to run the
//! real `lapse` binary beside the mock.

use std::path::Path;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Mounts a 200 answer to `GET route` at the default priority (5): a test overrides it by
/// mounting the same route at a higher one (a lower number).
pub async fn answer(server: &MockServer, route: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// Organization `org` holding `repos`, with no secret, key, token or workflow anywhere.
pub async fn mount(server: &MockServer, org: &str, repos: &[&str]) {
    let no_secrets = json!({"total_count": 0, "secrets": []});
    let read_only =
        json!({"default_workflow_permissions": "read", "can_approve_pull_request_reviews": false});
    for store in ["actions", "dependabot"] {
        answer(
            server,
            &format!("/orgs/{org}/{store}/secrets"),
            no_secrets.clone(),
        )
        .await;
    }
    answer(
        server,
        &format!("/orgs/{org}/personal-access-tokens"),
        json!([]),
    )
    .await;
    answer(
        server,
        &format!("/orgs/{org}/credential-authorizations"),
        json!([]),
    )
    .await;
    answer(
        server,
        &format!("/orgs/{org}/installations"),
        json!({"total_count": 0, "installations": []}),
    )
    .await;
    answer(
        server,
        &format!("/orgs/{org}/actions/permissions/workflow"),
        read_only.clone(),
    )
    .await;
    let listed: Vec<Value> = repos
        .iter()
        .map(|name| json!({"id": 1, "name": name, "full_name": format!("{org}/{name}"), "private": true}))
        .collect();
    answer(server, &format!("/orgs/{org}/repos"), Value::Array(listed)).await;
    for name in repos {
        let base = format!("/repos/{org}/{name}");
        for store in ["actions", "dependabot"] {
            answer(
                server,
                &format!("{base}/{store}/secrets"),
                no_secrets.clone(),
            )
            .await;
        }
        answer(
            server,
            &format!("{base}/environments"),
            json!({"total_count": 0, "environments": []}),
        )
        .await;
        answer(server, &format!("{base}/keys"), json!([])).await;
        answer(
            server,
            &format!("{base}/actions/permissions/workflow"),
            read_only.clone(),
        )
        .await;
        answer(
            server,
            &format!("{base}/actions/workflows"),
            json!({"total_count": 0, "workflows": []}),
        )
        .await;
    }
}

/// What one run of the binary left behind.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Every report file written, concatenated (to look for leaks).
    pub reports: String,
    /// `lapse-report.json`, when written.
    pub report: Option<Value>,
}

/// `lapse scan --quiet --format json,html,sarif --out <dir>/out <args>` from `dir`, with no
/// GitHub token or CA bundle in the environment, run off the async runtime so wiremock keeps
/// answering.
pub async fn scan(dir: &Path, args: Vec<String>) -> Run {
    scan_with_env(dir, args, &[]).await
}

/// [`scan`] with these environment variables set.
pub async fn scan_with_env(dir: &Path, args: Vec<String>, env: &[(&str, &str)]) -> Run {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = assert_cmd::Command::cargo_bin("lapse").expect("the lapse binary is built");
    cmd.current_dir(dir);
    for name in [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "RUST_LOG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        cmd.env_remove(name);
    }
    cmd.env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .args(["scan", "--quiet", "--format", "json,html,sarif", "--out"])
        .arg(&out)
        .args(args);
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("lapse runs"))
        .await
        .expect("the blocking task joins");
    let mut reports = String::new();
    for entry in std::fs::read_dir(&out).into_iter().flatten().flatten() {
        reports.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    let report = std::fs::read_to_string(out.join("lapse-report.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).expect("the JSON report parses"));
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        reports,
        report,
    }
}

impl Run {
    /// Fails when `secret` appears in any output or report.
    pub fn assert_absent(&self, secret: &str, what: &str) {
        for (place, text) in [
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
            ("reports", &self.reports),
        ] {
            assert!(!text.contains(secret), "the {what} leaked into {place}");
        }
    }

    pub fn gaps(&self) -> Vec<Value> {
        self.report
            .as_ref()
            .and_then(|r| r["scan"]["coverage_gaps"].as_array().cloned())
            .unwrap_or_default()
    }
}
