//! `lapse grant` of a GitHub deploy key against wiremock, the ledger being the source of truth:
//! a key the repository holds with no ledger line is standing access (refused, exit 2); granting
//! the key lapse issued again extends it with a new ledger line and no call to GitHub (which
//! cannot edit a key's title); `revoke` then leaves the key alone until the ledger's expiry,
//! though its title says it expired, and deletes it after.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use lapse::revoke::github::GithubExecutor;
use lapse::revoke::{ActionStatus, Executors, Journal};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrantTestKeyGrantTestKeyGrantTestKey0";

/// GitHub as the grant reads it: the repository, its keys (`keys`), and the POST that adds one
/// (id 7).
async fn mount(server: &MockServer, keys: Value) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/api"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"full_name": "acme/api"})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/api/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(keys))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/api/keys"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 7, "key": KEY, "title": "ci deploy", "read_only": true})))
        .mount(server)
        .await;
}

fn grant(dir: &Path, api: &str, ttl: &str, apply: bool) -> Command {
    let mut cmd = Command::cargo_bin("lapse").unwrap();
    cmd.env_remove("RUST_LOG")
        .env("GITHUB_TOKEN", "ghp_granttest")
        .current_dir(dir)
        .args(["grant", "--deploy-key-repo", "acme/api", "--public-key"])
        .arg(dir.join("ci.pub"))
        .args(["--title", "ci deploy", "--ttl", ttl, "--reason", "INC-9"])
        .args(["--requested-by", "alice", "--ledger"])
        .arg(dir.join("grants.jsonl"))
        .arg("--journal")
        .arg(dir.join("journal.jsonl"))
        .args(["--github-api-url", api]);
    if apply {
        cmd.arg("--apply");
    }
    cmd
}

async fn run(cmd: Command) -> (Option<i32>, String) {
    let mut cmd = cmd;
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("ghp_granttest"),
        "the token is never printed"
    );
    (output.status.code(), text)
}

async fn posts(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn at(value: &Value) -> chrono::DateTime<chrono::Utc> {
    lapse::analyze::expiry::parse_timestamp(value.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_key_granted_again_is_extended_in_the_ledger_and_revoked_after_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ci.pub"), format!("{KEY} ci@example\n")).unwrap();
    let ledger = dir.path().join("grants.jsonl");
    let server = MockServer::start().await;
    let api = server.uri();

    // The repository holds the key, the ledger has no line for it: standing access.
    mount(
        &server,
        json!([{"id": 9, "key": KEY, "title": "ci, standing"}]),
    )
    .await;
    let (code, text) = run(grant(dir.path(), &api, "2h", true)).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("standing access"), "{text}");
    assert_eq!(posts(&server).await, 0);
    assert!(!ledger.exists());

    // Issued: one POST, one line for key 7.
    mount(&server, json!([])).await;
    let (code, text) = run(grant(dir.path(), &api, "2h", true)).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(posts(&server).await, 1);
    let first = lines(&ledger);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["target"], "acme/api/7");
    let issued_until = at(&first[0]["expires_at"]);
    let title = format!(
        "ci deploy [lapse:expires-at={}]",
        issued_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );

    // Granted again while the key lapse issued is there: the plan says it extends, with no call.
    mount(&server, json!([{"id": 7, "key": KEY, "title": title}])).await;
    let (code, text) = run(grant(dir.path(), &api, "4h", false)).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("extends:"), "{text}");
    assert!(!text.contains("POST /repos"), "{text}");
    let (code, text) = run(grant(dir.path(), &api, "4h", true)).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("extended until"), "{text}");
    assert_eq!(posts(&server).await, 0, "GitHub is not called: {text}");
    let both = lines(&ledger);
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1]["target"], "acme/api/7");
    assert_eq!(both[1]["principal_unique_id"], "7");
    let extended_until = at(&both[1]["expires_at"]);
    assert!(extended_until > issued_until, "{both:?}");
    let journal = lines(&dir.path().join("journal.jsonl"));
    let events: Vec<&str> = journal
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["requested", "issued", "requested", "extended"]);
    let extended = &journal[3];
    assert_eq!(extended["grant"], "acme/api/7");
    assert_eq!(
        extended["detail"]["previous_expires_at"],
        first[0]["expires_at"]
    );
    let verify = Command::cargo_bin("lapse")
        .unwrap()
        .args(["journal", "verify"])
        .arg(dir.path().join("journal.jsonl"))
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));

    // Revoke, with the key as GitHub lists it (its title still says the first expiry) and the
    // same ledger: nothing before the ledger's expiry, the key after it.
    let mut inventory = lapse::inventory::Inventory::new(chrono::Utc::now());
    inventory.credentials = vec![crate::support::grants::deploy_key("acme/api", 7, &title)];
    inventory.ledger = lapse::revoke::ledger::load(&ledger).unwrap();
    let between = issued_until + chrono::Duration::minutes(1);
    let plan = lapse::revoke::plan(&inventory, between);
    assert!(plan.grants.is_empty(), "{plan:#?}");
    assert_eq!(plan.extended.len(), 1, "{plan:#?}");
    assert_eq!(plan.extended[0].expires_at, extended_until);

    let after = extended_until + chrono::Duration::minutes(1);
    let plan = lapse::revoke::plan(&inventory, after);
    assert_eq!(plan.grants.len(), 1, "the key, once: {plan:#?}");
    assert_eq!(plan.grants[0].marker_source, "ledger");
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/api/keys/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7, "title": title})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/api/keys/7"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let executors = Executors {
        github: Some(
            GithubExecutor::new(reqwest::Client::new(), &api, "test-token".into())
                .for_owners(&["acme"]),
        ),
        ..Executors::default()
    };
    let mut journal = Journal::open(&dir.path().join("revoke.jsonl")).unwrap();
    let outcome = lapse::revoke::apply(&plan, &executors, &mut journal)
        .await
        .unwrap();
    assert!(
        outcome
            .results
            .iter()
            .all(|r| matches!(r.status, ActionStatus::Done)),
        "{outcome:#?}"
    );
    server.verify().await;
}
