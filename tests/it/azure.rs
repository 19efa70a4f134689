//! Azure source: Graph and ARM served by wiremock behind a TLS terminator whose certificate is
//! signed by a CA made at test time, tokens from azure_identity's real `AzureCliCredential`
//! running a stub `az` through /bin/sh; and the AZ-* rules against their fixtures.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use azure_identity::{AzureCliCredential, AzureCliCredentialOptions, Executor};
use lapse::analyze::{AnalysisContext, analyze};
use lapse::collect::azure::{AzureOptions, Tokens, collect_with};
use lapse::inventory::Inventory;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
const TOKEN: &str = "test-token-0000-do-not-print";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture body with `{base}` (paging links) pointing at the TLS front.
fn body(name: &str, base: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("azure").join(name)).expect(name);
    serde_json::from_str(&text.replace("{base}", base)).expect(name)
}

/// Runs what azure_identity asks for (`/bin/sh -c "cd /bin && az account get-access-token …"`)
/// with the stub `az` first on PATH, without touching this process's environment.
#[derive(Debug)]
struct StubPath(PathBuf);

#[async_trait::async_trait]
impl Executor for StubPath {
    async fn run(&self, program: &OsStr, args: &[&OsStr]) -> std::io::Result<Output> {
        let path = format!(
            "{}:{}",
            self.0.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        tokio::process::Command::new(program)
            .args(args)
            .env("PATH", path)
            .output()
            .await
    }
}

fn stub_az(dir: &Path) -> Tokens {
    let expires = chrono::Utc::now().timestamp() + 3600;
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{log}'\necho '{{\"accessToken\":\"{TOKEN}\",\"expires_on\":{expires},\"tokenType\":\"Bearer\"}}'\n",
        log = dir.join("az.log").display()
    );
    let az = dir.join("az");
    std::fs::write(&az, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let options = AzureCliCredentialOptions {
        tenant_id: Some(TENANT.into()),
        executor: Some(Arc::new(StubPath(dir.to_path_buf()))),
        ..Default::default()
    };
    Tokens::with_credential("cli", AzureCliCredential::new(Some(options)).unwrap())
}

async fn mount(server: &MockServer, route: &str, status: u16, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn mount_graph(server: &MockServer, base: &str) {
    // The first page is throttled once; the collector must wait and retry.
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param_is_missing("$skiptoken"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(body("applications-page1.json", base)),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$skiptoken", "page2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(body("applications-page2.json", base)),
        )
        .mount(server)
        .await;
    let fic = "/v1.0/applications/11111111-0000-0000-0000-00000000000";
    mount(
        server,
        &format!("{fic}1/federatedIdentityCredentials"),
        200,
        body("federated-app1.json", base),
    )
    .await;
    mount(
        server,
        &format!("{fic}2/federatedIdentityCredentials"),
        200,
        body("federated-app2.json", base),
    )
    .await;
    mount(
        server,
        "/v1.0/servicePrincipals",
        200,
        body("service-principals.json", base),
    )
    .await;
    mount(
        server,
        "/beta/reports/servicePrincipalSignInActivities",
        403,
        body("forbidden-graph.json", base),
    )
    .await;
}

async fn mount_arm(server: &MockServer, base: &str) {
    mount(
        server,
        "/subscriptions",
        200,
        body("subscriptions.json", base),
    )
    .await;
    let authz = "/subscriptions/s1/providers/Microsoft.Authorization";
    Mock::given(method("GET"))
        .and(path(format!("{authz}/roleAssignments")))
        .and(query_param_is_missing("$skipToken"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(body("role-assignments-page1.json", base)),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{authz}/roleAssignments")))
        .and(query_param("$skipToken", "p2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(body("role-assignments-page2.json", base)),
        )
        .mount(server)
        .await;
    mount(
        server,
        &format!("{authz}/roleDefinitions"),
        200,
        body("role-definitions.json", base),
    )
    .await;
    mount(
        server,
        &format!("{authz}/roleAssignmentScheduleInstances"),
        200,
        body("schedule-instances.json", base),
    )
    .await;
    mount(
        server,
        &format!("{authz}/roleEligibilitySchedules"),
        200,
        body("eligibility-schedules.json", base),
    )
    .await;
    let s2 = "/subscriptions/s2/providers/Microsoft.Authorization/roleAssignments";
    mount(server, s2, 403, body("forbidden-arm.json", base)).await;
}

/// Serves the mock estate over TLS: the server (keep it alive), its base URL and the CA file.
async fn serve_mock_estate(dir: &Path) -> (MockServer, String, PathBuf) {
    let server = MockServer::start().await;
    let (ca, acceptor) = crate::support::tls::private_ca(dir);
    let front = crate::support::tls::tls_front(acceptor, *server.address()).await;
    let base = format!("https://127.0.0.1:{}", front.port());
    mount_graph(&server, &base).await;
    mount_arm(&server, &base).await;
    (server, base, ca)
}

/// Collects the mock estate through the public sync entry point.
async fn collect_mock_estate(dir: &Path) -> Inventory {
    let (_server, base, ca) = serve_mock_estate(dir).await;
    let mut opts =
        AzureOptions::from_flags(TENANT, &[], Some(&base), Some(&base), Some("cli")).unwrap();
    opts.ca_bundle = Some(ca);
    opts.max_retry_wait = std::time::Duration::from_secs(5);
    let tokens = stub_az(dir);
    tokio::task::spawn_blocking(move || collect_with(&opts, tokens))
        .await
        .unwrap()
}

/// The real binary, its default CLI credential finding the stub `az` on PATH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapse_collect_reads_azure_with_az_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, ca) = serve_mock_estate(dir.path()).await;
    stub_az(dir.path());
    let save = dir.path().join("inventory.json");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = assert_cmd::Command::cargo_bin("lapse").unwrap();
    cmd.env("PATH", path).env_remove("SSL_CERT_FILE").args([
        "collect",
        "--azure-tenant",
        TENANT,
        "--azure-graph-url",
        &base,
        "--azure-arm-url",
        &base,
        "--azure-credential",
        "cli",
        "--ca-bundle",
    ]);
    cmd.arg(&ca).arg("--save").arg(&save);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(3),
        "coverage gaps make exit 3: {stderr}"
    );
    assert!(!stderr.contains(TOKEN));
    let inv: Inventory = serde_json::from_str(&std::fs::read_to_string(&save).unwrap()).unwrap();
    assert_eq!(inv.principals.len(), 4, "{:?}", inv.coverage_gaps);
    assert_eq!(inv.coverage_gaps.len(), 3, "{:?}", inv.coverage_gaps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_graph_and_arm_over_tls_with_the_cli_credential() {
    let dir = tempfile::tempdir().unwrap();
    let inv = collect_mock_estate(dir.path()).await;

    let names: Vec<(&str, &str)> = inv
        .principals
        .iter()
        .map(|p| (p.kind.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(names.len(), 4, "{names:?} gaps: {:?}", inv.coverage_gaps);
    assert!(
        names.contains(&("application", "reporting")),
        "page 2 read: {names:?}"
    );
    assert_eq!(inv.credentials.len(), 4);
    assert_eq!(inv.trusts.len(), 1);
    let saved = serde_json::to_string(&inv).unwrap();
    assert!(
        !saved.contains("SHOULD-NEVER-BE-STORED"),
        "secretText must never be stored"
    );
    assert!(
        !saved.contains(TOKEN),
        "the access token must never be stored"
    );

    let grant = |id: &str| {
        inv.grants
            .iter()
            .find(|g| g.id.ends_with(id))
            .unwrap_or_else(|| panic!("{id}"))
    };
    assert_eq!(
        inv.grants.len(),
        5,
        "{:?}",
        inv.grants.iter().map(|g| &g.id).collect::<Vec<_>>()
    );
    assert_eq!(grant("/ra1").role.as_deref(), Some("Owner"));
    assert_eq!(grant("/ra4").role.as_deref(), Some("Blob Janitor"));
    assert!(
        grant("/ra3").ends_at.is_some(),
        "PIM end date copied onto the assignment"
    );
    assert_eq!(grant("/es1").kind, "pim_eligible");
    assert!(
        !inv.grants.iter().any(|g| g.id.ends_with("/ra-group")),
        "groups are not machine identities"
    );

    let gaps: Vec<(&str, &str)> = inv
        .coverage_gaps
        .iter()
        .map(|g| (g.scope.as_str(), g.what.as_str()))
        .collect();
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    assert!(gaps.contains(&(TENANT, "service principal sign-in activity")));
    // A federated credential that does not deserialize is a gap naming it, not dropped.
    assert!(gaps.contains(&(
        TENANT,
        "federated credentials of application 11111111-0000-0000-0000-000000000002: \
         item f0000000-0000-0000-0000-000000000002"
    )));
    assert!(gaps.contains(&("s2", "role assignments")));
    assert!(inv.coverage_gaps.iter().all(|g| !g.reason.contains(TOKEN)));

    let run = &inv.sources[0];
    assert_eq!(
        run.api_calls["graph.applications.list"], 3,
        "429, page 1, page 2"
    );
    assert_eq!(
        run.api_calls["arm.roleAssignments.list"], 3,
        "s1 two pages, s2 forbidden"
    );
    assert_eq!(run.attributes["credential"], "cli");
    let az_log = std::fs::read_to_string(dir.path().join("az.log")).unwrap();
    assert!(
        az_log.contains("--scope https://127.0.0.1:") && az_log.contains(TENANT),
        "{az_log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_estate_yields_the_expected_findings() {
    let dir = tempfile::tempdir().unwrap();
    let inv = collect_mock_estate(dir.path()).await;
    let ids = rule_hits(&inv, "2025-06-01T00:00:00Z");
    for (rule, resource) in [
        ("AZ-001", "k0000000-0000-0000-0000-000000000001"),
        ("AZ-002", "c0000000-0000-0000-0000-000000000001"),
        ("AZ-004", "11111111-0000-0000-0000-000000000002"),
        ("AZ-005", "/ra1"),
        ("AZ-006", "f0000000-0000-0000-0000-000000000001"),
        ("AZ-008", "/ra2"),
    ] {
        assert!(
            ids.iter()
                .any(|(r, id)| r == rule && id.ends_with(resource)),
            "{rule} on {resource}: {ids:?}"
        );
    }
    let standing: Vec<_> = ids.iter().filter(|(r, _)| r == "AZ-005").collect();
    assert_eq!(
        standing.len(),
        1,
        "PIM time-bound (ra3), eligible (es1), custom-role RG scope (ra4) are not standing: {standing:?}"
    );
}

/// `(rule id, resource id)` of every finding at `as_of`.
fn rule_hits(inv: &Inventory, as_of: &str) -> Vec<(String, String)> {
    let as_of = lapse::analyze::expiry::parse_timestamp(as_of).unwrap();
    let rules =
        lapse::rules::load(&[], &lapse::config::Config::default()).expect("built-in rules load");
    let analysis = analyze(inv, &AnalysisContext::at(as_of));
    let evaluation = lapse::rules::evaluate(&rules, &analysis.subjects, as_of);
    assert!(evaluation.errors.is_empty(), "{:?}", evaluation.errors);
    evaluation
        .findings
        .into_iter()
        .map(|f| (f.rule_id, f.resource.id))
        .collect()
}

#[test]
fn az_rules_fire_on_their_fixtures_and_not_on_clean_ones() {
    let root = fixtures().join("rules");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let id = dir.file_name().unwrap().to_string_lossy().to_string();
        if !id.starts_with("AZ-") {
            continue;
        }
        for (file, should_fire) in [("fires.json", true), ("clean.json", false)] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let inv: Inventory =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{id}/{file}: {e}"));
            let as_of = inv.collected_at.to_rfc3339();
            let fired = rule_hits(&inv, &as_of).iter().any(|(r, _)| *r == id);
            assert_eq!(fired, should_fire, "{id}/{file}");
        }
        checked += 1;
    }
    assert_eq!(checked, 9, "one fixture folder per AZ rule");
}
