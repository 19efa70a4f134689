//! AWS and GitHub in one `lapse scan`: a role whose GitHub OIDC trust admits `repo:acme/*` is
//! reported (AWS-012) with the scanned repositories it exposes; a role bound to one repository
//! and branch is not.

use serde_json::{Value, json};
use wiremock::MockServer;

use super::quiet_org;

fn aws_012_on<'a>(report: &'a Value, role: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["rule_id"] == "AWS-012")
        .filter(|f| {
            f["resource"]["id"]
                .as_str()
                .is_some_and(|id| id.ends_with(&format!(":role/{role}")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_oidc_trust_names_the_scanned_repositories_it_admits() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    quiet_org::mount(&server, "acme", &["api", "web"]).await;
    let details = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/oidc-roles.json"
    );
    let args = [
        "--aws-authorization-details",
        details,
        "--github-org",
        "acme",
        "--github-api-url",
        &server.uri(),
        "--fail-on",
        "never",
    ];
    let run = quiet_org::scan(dir.path(), args.iter().map(|s| s.to_string()).collect()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report = run.report.as_ref().expect("JSON report");
    assert!(run.gaps().is_empty(), "{:?}", run.gaps());
    let sources: Vec<&str> = report["scan"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["source"].as_str())
        .collect();
    assert!(
        sources.contains(&"aws-offline") && sources.contains(&"github"),
        "{sources:?}"
    );

    let unbound = aws_012_on(report, "gha-any-acme-repo");
    assert_eq!(unbound.len(), 1, "{:#?}", report["findings"]);
    assert_eq!(
        unbound[0]["evidence"]["github_scanned_repos_admitted"],
        json!(["acme/api", "acme/web"])
    );
    assert_eq!(unbound[0]["evidence"]["github_repos"], json!(["acme/*"]));
    assert!(
        aws_012_on(report, "gha-api-main").is_empty(),
        "a trust bound to one repository and branch is not AWS-012"
    );
}
