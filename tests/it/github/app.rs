//! GitHub App authentication through the real binary: the App's JWT (signed with a key made at
//! test time) finds the org's installation, the installation access token it buys is the one
//! every following request carries (the fine-grained PAT listing included), and neither ever
//! reaches an output. A key that is not a PEM key is an input error naming the file; an App not
//! installed on the org is a coverage gap.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::Utc;
use octocrab::jsonwebtoken::{self, DecodingKey, Validation};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::quiet_org::{self, Run};

const APP_ID: &str = "123";
const INSTALLATION: u64 = 4242;
const TOKEN: &str = "ghs_installationTokenValue000000000000000";

/// A fresh RSA key: its private half in `dir/key.pem`, its public half (PEM) returned.
fn app_key(dir: &Path) -> (PathBuf, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key generation");
    let file = dir.join("key.pem");
    std::fs::write(&file, pair.serialize_pem()).unwrap();
    (file, pair.public_key_pem())
}

fn app_args(server: &MockServer, key: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--github-org",
        "acme",
        "--github-app-id",
        APP_ID,
        "--github-api-url",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(server.uri());
    args.push("--github-app-key".into());
    args.push(key.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

async fn installation_lookup(server: &MockServer, status: u16) {
    let body = json!({"id": INSTALLATION, "app_id": 123, "account": {"login": "acme"},
                      "target_type": "Organization", "repository_selection": "all", "permissions": {}});
    Mock::given(method("GET"))
        .and(path("/orgs/acme/installation"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn access_token(server: &MockServer, installation: u64) {
    let expires = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    Mock::given(method("POST"))
        .and(path(format!(
            "/app/installations/{installation}/access_tokens"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": TOKEN, "expires_at": expires,
            "permissions": {"organization_personal_access_tokens": "read"}
        })))
        .mount(server)
        .await;
}

/// A never-expiring fine-grained PAT granted to the org: only an installation token lists it.
async fn pat_grant(server: &MockServer) {
    let since = (Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "id": 25381, "owner": {"login": "octocat", "id": 1, "type": "User"},
            "repository_selection": "all", "repositories_url": "https://x",
            "permissions": {"repository": {"metadata": "read"}}, "access_granted_at": since,
            "token_id": 98716, "token_name": "forever", "token_expired": false,
            "token_expires_at": null, "token_last_used_at": since
        }])))
        .with_priority(1)
        .mount(server)
        .await;
}

fn bearer(request: &Request) -> String {
    let value = request.headers.get("authorization").unwrap_or_else(|| {
        panic!(
            "{} {} carries no Authorization",
            request.method, request.url
        )
    });
    let value = value.to_str().expect("ASCII header");
    value
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("not a bearer credential on {}", request.url))
        .to_string()
}

/// The claims of an App JWT, after checking its RS256 signature against the App's public key.
fn app_claims(jwt: &str, public_pem: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .expect("base64url payload");
    let claims: Value = serde_json::from_slice(&payload).expect("JSON payload");
    let key = DecodingKey::from_rsa_pem(public_pem.as_bytes()).expect("public key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("signed by the App's key");
    claims
}

fn assert_app_jwt(claims: &Value) {
    // octocrab writes the App id as a JSON number; GitHub accepts a number or a string.
    let iss = match &claims["iss"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    assert_eq!(iss, APP_ID, "{claims}");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(
        exp > iat && exp - iat <= 600,
        "GitHub refuses a JWT living over 10 minutes: {claims}"
    );
    assert!(
        exp > Utc::now().timestamp(),
        "not expired on arrival: {claims}"
    );
}

fn is(request: &Request, verb: &str, route: &str) -> bool {
    request.method.as_str() == verb && request.url.path() == route
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_jwt_buys_the_installation_token_every_later_request_carries() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public_pem) = app_key(dir.path());
    let server = MockServer::start().await;
    installation_lookup(&server, 200).await;
    access_token(&server, INSTALLATION).await;
    pat_grant(&server).await;
    quiet_org::mount(&server, "acme", &["api"]).await;

    let run = quiet_org::scan(dir.path(), app_args(&server, &key, &["--fail-on", "never"])).await;
    assert_eq!(run.code, Some(0), "no gap, no gate: {}", run.stderr);
    assert!(run.gaps().is_empty(), "{:?}", run.gaps());

    let requests = server.received_requests().await.unwrap();
    let lookup = requests
        .iter()
        .position(|r| is(r, "GET", "/orgs/acme/installation"))
        .expect("the installation is looked up");
    let minted = requests
        .iter()
        .position(|r| {
            is(
                r,
                "POST",
                &format!("/app/installations/{INSTALLATION}/access_tokens"),
            )
        })
        .expect("an installation token is requested");
    assert!(
        lookup < minted,
        "the lookup names the installation the token is for"
    );
    let jwts = [bearer(&requests[lookup]), bearer(&requests[minted])];
    for jwt in &jwts {
        assert_app_jwt(&app_claims(jwt, &public_pem));
    }
    let later: Vec<&Request> = requests.iter().skip(minted + 1).collect();
    assert_eq!(
        later.len(),
        requests.len() - 2,
        "nothing precedes the token but the lookup"
    );
    for request in &later {
        assert_eq!(bearer(request), TOKEN, "{} {}", request.method, request.url);
    }
    assert!(
        later
            .iter()
            .any(|r| is(r, "GET", "/orgs/acme/personal-access-tokens"))
    );
    assert!(later.iter().any(|r| is(r, "GET", "/repos/acme/api/keys")));

    let report = run.report.as_ref().expect("JSON report");
    let listed = report["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["resource"]["name"] == "forever (octocat)");
    assert!(
        listed,
        "the fine-grained PAT listed with the installation token"
    );
    run.assert_absent(TOKEN, "installation token");
    for jwt in &jwts {
        run.assert_absent(jwt, "App JWT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_installation_id_skips_the_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = app_key(dir.path());
    let server = MockServer::start().await;
    access_token(&server, 77).await;
    quiet_org::mount(&server, "acme", &["api"]).await;

    let extra = ["--github-installation-id", "77", "--fail-on", "never"];
    let run = quiet_org::scan(dir.path(), app_args(&server, &key, &extra)).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let requests = server.received_requests().await.unwrap();
    assert!(is(
        &requests[0],
        "POST",
        "/app/installations/77/access_tokens"
    ));
    assert!(
        !requests
            .iter()
            .any(|r| r.url.path().ends_with("/installation"))
    );
    assert!(requests[1..].iter().all(|r| bearer(r) == TOKEN));
    run.assert_absent(TOKEN, "installation token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_that_is_not_a_pem_key_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let key = dir.path().join("not-a-key.pem");
    std::fs::write(
        &key,
        "-----BEGIN GARBAGE-----\nxyz\n-----END GARBAGE-----\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.pem");

    for file in [&key, &missing] {
        let run = quiet_org::scan(dir.path(), app_args(&server, file, &[])).await;
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(
            run.stderr.contains(&file.display().to_string()),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing is sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_not_installed_on_the_org_is_a_coverage_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = app_key(dir.path());
    let server = MockServer::start().await;
    installation_lookup(&server, 404).await;

    let run: Run = quiet_org::scan(dir.path(), app_args(&server, &key, &[])).await;
    assert_eq!(run.code, Some(3), "an incomplete scan: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let gaps = run.gaps();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["scope"], "acme");
    assert!(
        gaps[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not installed"),
        "{gaps:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert!(
        !requests.iter().any(|r| r.method.as_str() == "POST"),
        "no token is requested for an installation that does not exist"
    );
}
