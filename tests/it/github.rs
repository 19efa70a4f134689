//! GitHub: wiremock scenarios whose bodies follow GitHub's OpenAPI description (pagination
//! through Link headers, a secondary rate limit then success, a primary limit beyond the wait
//! bound, a 404 repository), through analyze and the built-in rules; and a contract test in
//! which Prism serves the published description and rejects any request it does not allow.

mod app;
mod cross_source;
mod private_ca;
mod quiet_org;

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use lapse::analyze::{AnalysisContext, analyze};
use lapse::collect::github::{self, GithubAuth, GithubOptions};
use lapse::config::Config;
use lapse::rules;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn days_ago(days: i64) -> String {
    (Utc::now() - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn options(server: &MockServer, orgs: &[&str], repos: &[&str]) -> GithubOptions {
    let mut opts = GithubOptions::new(
        orgs.iter().map(|s| s.to_string()).collect(),
        repos.iter().map(|s| s.to_string()).collect(),
        GithubAuth::Token("ghp_testtokenvalue0000000000000000000000".into()),
    );
    opts.api_url = server.uri();
    opts.max_rate_limit_wait = Duration::from_secs(5);
    opts
}

async fn get(server: &MockServer, route: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

fn secret(name: &str, updated_days_ago: i64) -> Value {
    json!({"name": name, "created_at": days_ago(900), "updated_at": days_ago(updated_days_ago), "visibility": "private",
           "selected_repositories_url": "https://api.github.com/orgs/acme/actions/secrets/X/repositories"})
}

/// Three pages of org secrets: each links to the next.
async fn paginated_secrets(server: &MockServer) {
    let route = "/orgs/acme/actions/secrets";
    for (page, next, names) in [
        (None, Some(2), ["OLD_1", "NEW_1"]),
        (Some(2), Some(3), ["OLD_2", "NEW_2"]),
        (Some(3), None, ["OLD_3", "NEW_3"]),
    ] {
        let body =
            json!({"total_count": 6, "secrets": [secret(names[0], 500), secret(names[1], 10)]});
        let mut response = ResponseTemplate::new(200).set_body_json(body);
        if let Some(n) = next {
            let link = format!(
                "<{}{route}?per_page=100&page={n}>; rel=\"next\", <{}{route}?per_page=100&page=3>; rel=\"last\"",
                server.uri(),
                server.uri()
            );
            response = response.insert_header("link", link.as_str());
        }
        let mock = Mock::given(method("GET")).and(path(route));
        let mock = match page {
            None => mock.and(query_param_is_missing("page")),
            Some(p) => mock.and(query_param("page", p.to_string().as_str())),
        };
        mock.respond_with(response).mount(server).await;
    }
}

async fn estate(server: &MockServer) {
    paginated_secrets(server).await;
    get(
        server,
        "/orgs/acme/dependabot/secrets",
        json!({"total_count": 1, "secrets": [secret("DEP_OLD", 400)]}),
    )
    .await;
    // A secondary rate limit first, then the answer.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    let owner = json!({"login": "octocat", "id": 1, "type": "User"});
    get(server, "/orgs/acme/personal-access-tokens", json!([
        {"id": 25381, "owner": owner, "repository_selection": "all", "repositories_url": "https://x",
         "permissions": {"repository": {"contents": "write", "metadata": "read"}}, "access_granted_at": days_ago(30),
         "token_id": 98716, "token_name": "forever", "token_expired": false, "token_expires_at": null, "token_last_used_at": days_ago(1)},
        {"id": 25382, "owner": owner, "repository_selection": "subset", "repositories_url": "https://x",
         "permissions": {"repository": {"metadata": "read"}}, "access_granted_at": days_ago(30),
         "token_id": 98717, "token_name": "scoped", "token_expired": false, "token_expires_at": days_ago(-60), "token_last_used_at": days_ago(2)}
    ])).await;
    get(server, "/orgs/acme/credential-authorizations", json!([
        {"login": "octocat", "credential_id": 161195, "credential_type": "personal access token", "token_last_eight": "71c3fc11",
         "credential_authorized_at": days_ago(100), "credential_accessed_at": days_ago(3), "authorized_credential_id": 1,
         "authorized_credential_expires_at": null, "scopes": ["repo"]}
    ])).await;
    get(server, "/orgs/acme/installations", json!({"total_count": 1, "installations": [
        {"id": 1, "app_id": 7, "app_slug": "release-manager", "target_type": "Organization", "repository_selection": "all",
         "permissions": {"administration": "write", "metadata": "read"}, "created_at": days_ago(200), "suspended_at": null}
    ]})).await;
    get(
        server,
        "/orgs/acme/actions/permissions/workflow",
        json!({"default_workflow_permissions": "write", "can_approve_pull_request_reviews": false}),
    )
    .await;

    get(
        server,
        "/repos/acme/api/actions/secrets",
        json!({"total_count": 0, "secrets": []}),
    )
    .await;
    get(
        server,
        "/repos/acme/api/dependabot/secrets",
        json!({"total_count": 0, "secrets": []}),
    )
    .await;
    get(
        server,
        "/repos/acme/api/environments",
        json!({"total_count": 1, "environments": [{"id": 1, "name": "prod"}]}),
    )
    .await;
    get(
        server,
        "/repos/acme/api/environments/prod/secrets",
        json!({"total_count": 1, "secrets": [secret("PROD_DB", 700)]}),
    )
    .await;
    get(server, "/repos/acme/api/keys", json!([
        {"id": 1, "key": "ssh-ed25519 AAAA", "title": "pusher", "read_only": false, "created_at": days_ago(50), "last_used": days_ago(1), "added_by": "octocat", "verified": true},
        {"id": 2, "key": "ssh-ed25519 BBBB", "title": "mirror", "read_only": true, "created_at": days_ago(400), "last_used": days_ago(200), "added_by": "octocat", "verified": true},
        {"id": 3, "key": "ssh-ed25519 CCCC", "title": format!("hotfix [lapse:expires-at={}]", days_ago(2)), "read_only": true, "created_at": days_ago(10), "last_used": null, "verified": true}
    ])).await;
    get(
        server,
        "/repos/acme/api/actions/permissions/workflow",
        json!({"default_workflow_permissions": "read", "can_approve_pull_request_reviews": false}),
    )
    .await;
    get(server, "/repos/acme/api/actions/workflows", json!({"total_count": 2, "workflows": [
        {"id": 1, "name": "deploy", "path": ".github/workflows/deploy.yml", "state": "active"},
        {"id": 2, "name": "CodeQL", "path": "dynamic/github-code-scanning/codeql", "state": "active"}
    ]})).await;
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/repo/leaky/.github/workflows/deploy.yml"
    ))
    .unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    get(
        server,
        "/repos/acme/api/contents/.github/workflows/deploy.yml",
        json!({"type": "file", "encoding": "base64", "name": "deploy.yml",
        "path": ".github/workflows/deploy.yml", "content": encoded}),
    )
    .await;
    // acme/gone: nothing mounted, so wiremock answers 404.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_scan_inventory_gaps_and_findings() {
    let server = MockServer::start().await;
    estate(&server).await;
    let opts = options(&server, &["acme"], &["acme/api", "acme/gone"]);
    let started = std::time::Instant::now();
    let inventory = github::collect(&opts);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the retry-after wait was honoured"
    );

    let kinds = |kind: &str| {
        inventory
            .credentials
            .iter()
            .filter(|c| c.kind == kind)
            .count()
    };
    assert_eq!(
        kinds("actions_secret"),
        7,
        "six org secrets over three pages plus one environment secret"
    );
    assert_eq!(
        (
            kinds("dependabot_secret"),
            kinds("deploy_key"),
            kinds("fine_grained_pat"),
            kinds("classic_pat")
        ),
        (1, 3, 2, 1)
    );
    let gaps: Vec<_> = inventory
        .coverage_gaps
        .iter()
        .map(|g| g.what.as_str())
        .collect();
    assert_eq!(
        gaps,
        vec!["repository acme/gone"],
        "{:?}",
        inventory.coverage_gaps
    );
    assert!(inventory.coverage_gaps[0].reason.contains("404"));

    let calls = &inventory.sources[0].api_calls;
    assert_eq!(calls["actions/list-org-secrets"], 3);
    assert_eq!(
        calls["orgs/list-pat-grants"], 2,
        "one rate-limited call, one answered"
    );
    assert_eq!(
        calls["repos/get-content"], 1,
        "dynamic workflows have no file to read"
    );

    let requests = server.received_requests().await.unwrap();
    for request in &requests {
        assert_eq!(
            request.headers.get("authorization").unwrap(),
            "Bearer ghp_testtokenvalue0000000000000000000000"
        );
        assert_eq!(
            request.headers.get("accept").unwrap(),
            "application/vnd.github+json"
        );
        assert!(
            !request.url.path().contains("/secrets/") || request.url.path().ends_with("/secrets"),
            "never a secret's own URL: {}",
            request.url
        );
    }

    let text = serde_json::to_string(&inventory).unwrap();
    assert!(
        !text.contains("testtokenvalue") && !text.contains("71c3fc11"),
        "token or more than four characters leaked"
    );

    let ctx = AnalysisContext::at(Utc::now());
    let analysis = analyze(&inventory, &ctx);
    let set = rules::load(&[], &Config::default()).unwrap();
    let eval = rules::evaluate(&set, &analysis.subjects, ctx.as_of);
    let fired = |rule: &str| {
        eval.findings
            .iter()
            .filter(|f| f.rule_id == rule)
            .map(|f| f.resource.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        fired("GH-001").len(),
        5,
        "OLD_1..3, DEP_OLD, PROD_DB: {:?}",
        fired("GH-001")
    );
    assert_eq!(fired("GH-002"), vec!["pusher"]);
    assert_eq!(fired("GH-003").len(), 1, "mirror unused for 200 days");
    assert_eq!(fired("GH-004").len(), 1, "expired provisional deploy key");
    assert_eq!(fired("GH-005"), vec!["forever (octocat)"]);
    assert_eq!(fired("GH-007"), vec!["forever (octocat)"]);
    assert_eq!(fired("GH-008").len(), 1);
    assert_eq!(fired("GH-009"), vec!["release-manager"]);
    assert_eq!(
        fired("GH-010").len(),
        1,
        "org default write, repo default read"
    );
    assert_eq!(
        fired("REPO-003").len(),
        4,
        "fetched workflow judged like a local one"
    );
    let cloud = eval
        .findings
        .iter()
        .find(|f| f.rule_id == "REPO-003")
        .unwrap();
    assert_eq!(cloud.resource.provider, lapse::inventory::Provider::Github);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_limit_beyond_the_bound_is_a_gap() {
    let server = MockServer::start().await;
    let reset = (Utc::now().timestamp() + 3600).to_string();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let inventory = github::collect(&options(&server, &["acme"], &[]));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an hour-long reset is not waited for"
    );
    assert!(!inventory.coverage_gaps.is_empty());
    for gap in &inventory.coverage_gaps {
        assert!(gap.reason.contains("rate limited"), "{gap:?}");
        assert!(
            gap.request
                .as_deref()
                .is_some_and(|r| r.starts_with("GET /orgs/acme/")),
            "{gap:?}"
        );
    }
}

#[test]
fn unreachable_api_is_a_gap_not_a_panic() {
    let mut opts = GithubOptions::new(vec!["acme".into()], vec![], GithubAuth::Anonymous);
    opts.api_url = "http://127.0.0.1:9".into();
    let inventory = github::collect(&opts);
    assert!(!inventory.coverage_gaps.is_empty());
    assert!(inventory.credentials.is_empty());
}

#[test]
fn unauthenticated_listing_of_pats_says_an_app_is_needed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/orgs/acme/personal-access-tokens"))
            .and(header("accept", "application/vnd.github+json"))
            .respond_with(ResponseTemplate::new(403).set_body_json(
                json!({"message": "Resource not accessible by personal access token"}),
            ))
            .mount(&server)
            .await;
        server
    });
    let inventory = github::collect(&options(&server, &["acme"], &[]));
    let gap = inventory
        .coverage_gaps
        .iter()
        .find(|g| g.what.contains("fine-grained"))
        .expect("PAT gap");
    assert!(gap.reason.contains("GitHub App"), "{gap:?}");
}

/// Prism serving GitHub's description; killed when dropped.
pub(crate) struct Prism(std::process::Child);

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Replaces `$ref`s to files the npm package does not ship (GHEC's server-statistics schemas,
/// unrelated to what lapse reads) with an empty schema, so Prism can load the rest.
fn drop_external_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map
                .get("$ref")
                .and_then(Value::as_str)
                .is_some_and(|r| !r.starts_with('#'))
            {
                map.clear();
            }
            map.values_mut().for_each(drop_external_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_external_refs),
        _ => {}
    }
}

pub(crate) fn start_prism(log: &std::path::Path) -> (Prism, u16) {
    let (Ok(prism), Ok(dir)) = (
        std::env::var("LAPSE_PRISM"),
        std::env::var("LAPSE_GITHUB_OPENAPI_DIR"),
    ) else {
        panic!(
            "LAPSE_PRISM and LAPSE_GITHUB_OPENAPI_DIR are unset: run scripts/test, which installs Prism and @octokit/openapi"
        );
    };
    // The GHEC description: the same REST API as api.github.com plus the SAML credential
    // authorizations endpoint, which api.github.com.json leaves out.
    let text = std::fs::read_to_string(format!("{dir}/generated/ghec.deref.json"))
        .expect("ghec.deref.json");
    let mut description: Value = serde_json::from_str(&text).expect("description is JSON");
    drop_external_refs(&mut description);
    let spec = log.with_file_name("ghec.json");
    std::fs::write(&spec, serde_json::to_vec(&description).unwrap()).unwrap();
    let port = free_port();
    let out = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(prism)
        .args([
            "mock",
            "--errors",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            spec.to_str().unwrap(),
        ])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start prism");
    let mut guard = Prism(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = guard.0.try_wait().ok().flatten().is_some();
        assert!(
            !exited && std::time::Instant::now() < deadline,
            "prism did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    (guard, port)
}

/// What Prism said to one request the collector made.
#[derive(Debug, Clone)]
#[allow(dead_code)] // read through `Debug` in the failure message
struct Exchange {
    path: String,
    status: u16,
    violations: Option<String>,
}

/// GitHub wants a nested contents path with plain slashes (an encoded `%2F` is a 404 for
/// fine-grained tokens, octokit.js#2422), while Prism's router matches `{path}` against one
/// segment only: encode those slashes for Prism alone.
fn prism_route(target: &str) -> String {
    let parts: Vec<&str> = target.splitn(6, '/').collect();
    match parts.as_slice() {
        ["", "repos", owner, repo, "contents", rest] => format!(
            "/repos/{owner}/{repo}/contents/{}",
            rest.replace('/', "%2F")
        ),
        _ => target.to_string(),
    }
}

/// A one-request-per-connection HTTP proxy in front of Prism. It only rewrites `Accept`: the
/// description lists `application/json`, so Prism answers 406 to GitHub's own media type.
async fn accept_rewriting_proxy(
    prism: u16,
    log: std::sync::Arc<std::sync::Mutex<Vec<Exchange>>>,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (client, log) = (client.clone(), log.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let mut lines = text.split("\r\n");
                let target = lines
                    .next()
                    .unwrap_or("")
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                let mut request = client
                    .get(format!("http://127.0.0.1:{prism}{}", prism_route(&target)))
                    .header("accept", "application/json");
                for line in lines.take_while(|l| !l.is_empty()) {
                    if let Some((name, value)) = line.split_once(':') {
                        let lower = name.trim().to_ascii_lowercase();
                        if !matches!(
                            lower.as_str(),
                            "host" | "accept" | "connection" | "content-length"
                        ) {
                            request = request.header(name.trim(), value.trim());
                        }
                    }
                }
                let (status, violations, body) = match request.send().await {
                    Ok(r) => {
                        let v = r
                            .headers()
                            .get("sl-violations")
                            .map(|v| v.to_str().unwrap_or("?").to_string());
                        (
                            r.status().as_u16(),
                            v,
                            r.bytes().await.unwrap_or_default().to_vec(),
                        )
                    }
                    Err(e) => (502, Some(e.to_string()), Vec::new()),
                };
                log.lock().unwrap().push(Exchange {
                    path: target,
                    status,
                    violations,
                });
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    port
}

#[test]
fn every_request_is_allowed_by_the_published_description() {
    let dir = tempfile::tempdir().unwrap();
    let (_prism, prism_port) = start_prism(&dir.path().join("prism.log"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = rt.block_on(accept_rewriting_proxy(prism_port, log.clone()));
    let mut opts = GithubOptions::new(
        vec!["acme".into()],
        vec![],
        GithubAuth::Token("ghp_contracttest".into()),
    );
    opts.api_url = format!("http://127.0.0.1:{proxy}");
    let inventory = github::collect(&opts);
    let exchanges = log.lock().unwrap().clone();
    let calls: u64 = inventory.api_calls().values().sum();
    assert_eq!(
        exchanges.len() as u64,
        calls,
        "every counted call reached Prism"
    );
    for op in [
        "actions/list-org-secrets",
        "orgs/list-pat-grants",
        "orgs/list-saml-sso-authorizations",
        "repos/list-for-org",
        "repos/list-deploy-keys",
        "actions/list-environment-secrets",
        "actions/list-repo-workflows",
    ] {
        assert!(
            inventory.api_calls().contains_key(op),
            "{op} not exercised: {:?}",
            inventory.api_calls()
        );
    }
    let rejected: Vec<_> = exchanges
        .iter()
        .filter(|e| e.status >= 400 || e.violations.is_some())
        .collect();
    assert!(
        rejected.is_empty(),
        "requests the description does not allow: {rejected:#?}"
    );
}
