//! Revoke end to end. AWS: the real `lapse revoke` binary against moto, proven by IAM list
//! calls afterwards (keys inactive then deleted, policies detached, the session deny in place,
//! look-alikes untouched), a crash mid-apply finished by a re-run, the lock, a bad ledger.
//! GitHub and Azure: the library's `apply` against wiremock, asserting the exact requests.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use aws_sdk_iam::types::StatusType;
use chrono::{TimeZone, Utc};
use serde_json::Value;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use lapse::inventory::{Credential, Grant, Inventory, LastUsed, LedgerEntry, Provider};
use lapse::revoke::apply::ActionStatus;
use lapse::revoke::azure::{AzureAuth, AzureExecutor};
use lapse::revoke::github::GithubExecutor;
use lapse::revoke::{Executors, Journal, JournalState};

// Re-exported for the grant tests, which prove their changes with the same list calls.
use crate::support::iam::{READ_ONLY, expiry, has_login_profile, key_states, managed_policy, user};
pub(crate) use crate::support::iam::{attached, inline};
use crate::support::moto::Moto;

const PAST: &str = "2020-01-01T00:00:00Z";
const FUTURE: &str = "2099-01-01T00:00:00Z";
const ROLE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn role(iam: &aws_sdk_iam::Client, name: &str, marker: Option<&str>, policies: &[&str]) {
    let mut create = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(ROLE_TRUST);
    if let Some(value) = marker {
        create = create.tags(expiry(value));
    }
    create.send().await.expect("create role");
    for arn in policies {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(*arn)
            .send()
            .await
            .expect("attach");
    }
    iam.put_role_policy()
        .role_name(name)
        .policy_name("inline-read")
        .policy_document(READ_ONLY)
        .send()
        .await
        .expect("inline");
}

struct Estate {
    policy: String,
    second: String,
}

/// Expired user and role; look-alikes with no marker, a future one and a malformed one; a role
/// whose one attachment is governed by the ledger.
async fn build_estate(iam: &aws_sdk_iam::Client) -> Estate {
    let policy = managed_policy(iam, "temp-read").await;
    let second = managed_policy(iam, "ledger-read").await;
    user(iam, "temp-deployer", Some(PAST), 2, &policy).await;
    user(iam, "standing-svc", None, 2, &policy).await;
    user(iam, "future-svc", Some(FUTURE), 2, &policy).await;
    user(iam, "broken-svc", Some("next tuesday"), 2, &policy).await;
    role(iam, "temp-ci", Some(PAST), &[&policy]).await;
    role(iam, "future-role", Some(FUTURE), &[&policy]).await;
    role(iam, "standing-role", None, &[&policy, &second]).await;
    Estate { policy, second }
}

fn lapse(moto: &Moto, dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    moto.env(&mut cmd);
    cmd.env_remove("RUST_LOG")
        .env_remove(lapse::revoke::TEST_ABORT_ENV)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args(["revoke", "--aws", "--quiet", "--journal"])
        .arg(dir.join("journal.jsonl"));
    cmd
}

/// Each look-alike still has everything it started with.
async fn assert_untouched(iam: &aws_sdk_iam::Client, estate: &Estate) {
    for name in ["standing-svc", "future-svc", "broken-svc"] {
        assert_eq!(
            key_states(iam, name).await,
            vec![StatusType::Active; 2],
            "{name} keys"
        );
        assert_eq!(
            attached(iam, "user", name).await,
            vec![estate.policy.clone()],
            "{name}"
        );
        assert_eq!(
            inline(iam, "user", name).await,
            vec!["inline-read"],
            "{name}"
        );
        assert!(has_login_profile(iam, name).await, "{name} login profile");
    }
    assert_eq!(
        attached(iam, "role", "future-role").await,
        vec![estate.policy.clone()]
    );
    assert_eq!(
        inline(iam, "role", "future-role").await,
        vec!["inline-read"]
    );
    assert_eq!(
        inline(iam, "role", "standing-role").await,
        vec!["inline-read"]
    );
}

fn journal_records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every journal line is JSON"))
        .collect()
}

fn write_ledger(dir: &Path, estate: &Estate) -> std::path::PathBuf {
    let entry = serde_json::json!({
        "provider": "aws", "kind": "policy_attachment",
        "principal_id": "arn:aws:iam::123456789012:role/standing-role",
        "target": estate.second, "expires_at": PAST, "owner": "alice", "reason": "INC-1"
    });
    let path = dir.join("ledger.jsonl");
    std::fs::write(&path, format!("# temporary read for INC-1\n{entry}\n")).expect("ledger");
    path
}

#[test]
fn plan_changes_nothing_and_apply_revokes_only_expired_grants() {
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = runtime();
    let estate = rt.block_on(build_estate(&iam));
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = write_ledger(dir.path(), &estate);

    let plan = lapse(&moto, dir.path())
        .arg("--ledger")
        .arg(&ledger)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&plan.get_output().stdout).to_string();
    assert!(text.contains("plan only"), "{text}");
    assert!(
        text.contains("iam:DetachUserPolicy UserName=temp-deployer"),
        "{text}"
    );
    assert!(
        text.contains("iam:PutRolePolicy RoleName=temp-ci PolicyName=LapseRevokeOlderSessions"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "iam:DetachRolePolicy RoleName=standing-role PolicyArn={}",
            estate.second
        )),
        "{text}"
    );
    assert!(
        text.contains("next tuesday"),
        "the malformed marker is reported: {text}"
    );
    assert!(
        !text.contains("UserName=broken-svc") && !text.contains("UserName=future-svc"),
        "{text}"
    );
    assert!(
        !dir.path().join("journal.jsonl").exists(),
        "a plan writes no journal"
    );
    assert_eq!(
        rt.block_on(key_states(&iam, "temp-deployer")),
        vec![StatusType::Active; 2]
    );

    // A second concurrent apply is refused by the lock.
    let held = lapse::revoke::lock::acquire(&dir.path().join("journal.jsonl")).expect("lock");
    let refused = lapse(&moto, dir.path()).arg("--apply").assert().code(2);
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        stderr.contains("another `lapse revoke --apply`"),
        "{stderr}"
    );
    drop(held);

    lapse(&moto, dir.path())
        .arg("--ledger")
        .arg(&ledger)
        .arg("--apply")
        .assert()
        .success();
    rt.block_on(async {
        assert_eq!(
            key_states(&iam, "temp-deployer").await,
            vec![StatusType::Inactive; 2]
        );
        assert!(attached(&iam, "user", "temp-deployer").await.is_empty());
        assert!(inline(&iam, "user", "temp-deployer").await.is_empty());
        assert!(!has_login_profile(&iam, "temp-deployer").await);
        assert!(attached(&iam, "role", "temp-ci").await.is_empty());
        let deny_name = only_deny(&iam, "temp-ci").await;
        let deny = iam
            .get_role_policy()
            .role_name("temp-ci")
            .policy_name(&deny_name)
            .send()
            .await
            .expect("deny policy");
        let document = percent_decode(deny.policy_document());
        assert!(
            document.contains("aws:TokenIssueTime") && document.contains("DateLessThan"),
            "{document}"
        );
        assert_eq!(
            attached(&iam, "role", "standing-role").await,
            vec![estate.policy.clone()]
        );
        assert_untouched(&iam, &estate).await;
    });
    let records = journal_records(dir.path());
    let started = records.iter().filter(|r| r["event"] == "started").count();
    let done = records.iter().filter(|r| r["event"] == "done").count();
    let deferred = records.iter().filter(|r| r["event"] == "deferred").count();
    assert_eq!(
        started,
        done + deferred,
        "every action has a record before and after"
    );
    assert!(
        records
            .iter()
            .any(|r| r["replaced"]["policy_arn_detached"] == estate.policy.as_str())
    );

    // Later run with the grace period over: the keys lapse deactivated are deleted.
    lapse(&moto, dir.path())
        .args(["--grace", "0", "--apply"])
        .assert()
        .success();
    assert!(rt.block_on(key_states(&iam, "temp-deployer")).is_empty());
    rt.block_on(assert_untouched(&iam, &estate));
}

/// The role's one inline policy, lapse's session cutoff (named for the run that wrote it).
async fn only_deny(iam: &aws_sdk_iam::Client, role: &str) -> String {
    let names = inline(iam, "role", role).await;
    assert!(
        names.len() == 1 && names[0].starts_with("LapseRevokeOlderSessions-"),
        "{names:?}"
    );
    names[0].clone()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .to_string()
}

#[test]
fn a_run_killed_mid_apply_is_finished_by_the_next_without_repeats() {
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = runtime();
    let estate = rt.block_on(build_estate(&iam));
    let dir = tempfile::tempdir().expect("tempdir");

    let ledger = write_ledger(dir.path(), &estate);

    // Actions, sorted by resource id: the ledger's detach on standing-role (1), temp-ci's deny,
    // detach and inline delete (2-4), temp-deployer's key deactivation (5). The process exits
    // after call 5 returned, before its `done` record.
    lapse(&moto, dir.path())
        .arg("--ledger")
        .arg(&ledger)
        .arg("--apply")
        .env(lapse::revoke::TEST_ABORT_ENV, "5")
        .assert()
        .code(86);
    let records = journal_records(dir.path());
    // Killed between records: the action started, each key was claimed before its call, and
    // no `done` followed.
    let started = records
        .iter()
        .rposition(|r| r["event"] == "started")
        .expect("a started record");
    assert_eq!(
        records[started]["action"]["action"],
        "aws_deactivate_access_keys"
    );
    let after: Vec<&Value> = records[started + 1..].iter().map(|r| &r["event"]).collect();
    assert_eq!(after, vec!["key_claimed", "key_claimed"], "{records:#?}");
    assert_eq!(
        rt.block_on(key_states(&iam, "temp-deployer")),
        vec![StatusType::Inactive; 2]
    );
    assert!(
        rt.block_on(has_login_profile(&iam, "temp-deployer")),
        "not reached yet"
    );

    let rerun = lapse(&moto, dir.path())
        .arg("--ledger")
        .arg(&ledger)
        .arg("--apply")
        .assert()
        .success();
    let out = String::from_utf8_lossy(&rerun.get_output().stdout).to_string();
    assert!(out.contains("done by an interrupted earlier run"), "{out}");
    rt.block_on(async {
        only_deny(&iam, "temp-ci").await;
        assert_eq!(
            key_states(&iam, "temp-deployer").await,
            vec![StatusType::Inactive; 2]
        );
        assert!(attached(&iam, "user", "temp-deployer").await.is_empty());
        assert_untouched(&iam, &estate).await;
    });

    // Replay: no action was done twice, and the deny was put exactly once.
    let records = journal_records(dir.path());
    let mut done: BTreeMap<String, usize> = BTreeMap::new();
    for record in records.iter().filter(|r| r["event"] == "done") {
        *done.entry(record["action"].to_string()).or_default() += 1;
    }
    assert!(done.values().all(|&n| n == 1), "{done:?}");
    let puts = records
        .iter()
        .filter(|r| r["event"] == "started" && r["action"]["action"] == "aws_deny_older_sessions")
        .count();
    assert_eq!(puts, 1);
    let state = JournalState::load(&dir.path().join("journal.jsonl")).expect("journal replays");
    assert!(
        state.resumable.is_empty() && state.interrupted.is_empty(),
        "the re-run finished"
    );
    assert_eq!(
        state.deactivated_keys.len(),
        2,
        "keys deactivated in the crash window are claimed"
    );
}

#[test]
fn a_malformed_ledger_is_an_input_error_naming_the_line() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger, "# ok\n{\"provider\":\"aws\",\"kind\":\"policy_attachment\",\"target\":\"x\",\"expires_at\":\"soon\"}\n").expect("write");
    let out = lapse(&moto, dir.path())
        .arg("--ledger")
        .arg(&ledger)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("ledger.jsonl:2:") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
}

// --- GitHub and Azure through the library, against wiremock ------------------------------------

fn at(text: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("timestamp")
        .with_timezone(&Utc)
}

fn deploy_key(id: u64, title: &str) -> Credential {
    crate::support::grants::deploy_key("acme/api", id, title)
}

fn ledger(provider: Provider, kind: &str, target: &str, expires: &str) -> LedgerEntry {
    LedgerEntry::new(provider, kind, target, at(expires))
}

fn github_estate() -> Inventory {
    // Within max_provisional_days of the estate's instant: still provisional, not too far.
    const SOON: &str = "2025-07-01T00:00:00Z";
    let mut inventory = Inventory::new(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap());
    inventory.credentials = vec![
        deploy_key(42, &format!("deploy [lapse:expires-at={PAST}]")),
        deploy_key(43, &format!("deploy [lapse:expires-at={SOON}]")),
        deploy_key(44, "deploy [lapse:expires-at=whenever]"),
        deploy_key(45, "deploy, standing"),
    ];
    inventory.ledger = vec![
        ledger(
            Provider::Github,
            "actions_secret",
            "acme/api/DEPLOY_TOKEN",
            PAST,
        ),
        ledger(Provider::Github, "actions_secret", "acme/ORG_TOKEN", PAST),
        ledger(Provider::Github, "actions_secret", "acme/api/LATER", SOON),
    ];
    inventory
}

/// The deploy key read again before its deletion: still there, with the planned title.
async fn mock_key_42(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/repos/acme/api/keys/42"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": 42, "title": format!("deploy [lapse:expires-at={PAST}]"), "read_only": true
        })))
        .expect(1)
        .mount(server)
        .await;
}

async fn mock_delete(server: &MockServer, route: &str, status: u16) {
    Mock::given(method("DELETE"))
        .and(path(route))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(status))
        .expect(1)
        .mount(server)
        .await;
}

#[test]
fn github_deletes_exactly_the_expired_deploy_key_and_secrets() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        mock_key_42(&server).await;
        mock_delete(&server, "/repos/acme/api/keys/42", 204).await;
        mock_delete(&server, "/repos/acme/api/actions/secrets/DEPLOY_TOKEN", 204).await;
        // Already gone: 404 counts as done, "already absent".
        mock_delete(&server, "/orgs/acme/actions/secrets/ORG_TOKEN", 404).await;

        let plan = lapse::revoke::plan(&github_estate(), at("2025-06-01T00:00:00Z"));
        assert_eq!(plan.grants.len(), 3, "{plan:#?}");
        assert_eq!(plan.issues.len(), 1, "the unreadable title is an issue");
        assert_eq!(plan.not_yet_expired, 2);

        let outcome = apply_against_github(&plan, &server).await;
        assert!(
            outcome.results.iter().all(|r| match r.grant.as_str() {
                "acme/ORG_TOKEN" => matches!(r.status, ActionStatus::AlreadyAbsent),
                _ => matches!(r.status, ActionStatus::Done),
            }),
            "{outcome:#?}"
        );
        assert_eq!(outcome.exit_code(), lapse::exit::Code::Clean);
        let requests = server.received_requests().await.expect("recorded");
        assert_eq!(requests.len(), 4, "no other request: {requests:?}");
        server.verify().await;
    });
}

#[test]
fn a_permission_error_stops_its_grant_and_exits_1_while_others_go_on() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        mock_key_42(&server).await;
        mock_delete(&server, "/repos/acme/api/keys/42", 403).await;
        mock_delete(&server, "/repos/acme/api/actions/secrets/DEPLOY_TOKEN", 204).await;
        mock_delete(&server, "/orgs/acme/actions/secrets/ORG_TOKEN", 204).await;
        let plan = lapse::revoke::plan(&github_estate(), at("2025-06-01T00:00:00Z"));
        let outcome = apply_against_github(&plan, &server).await;
        let failed: Vec<_> = outcome.failures().collect();
        assert_eq!(failed.len(), 1);
        assert!(matches!(
            failed[0].status,
            ActionStatus::Failed {
                permission: true,
                ..
            }
        ));
        assert_eq!(outcome.exit_code(), lapse::exit::Code::Findings);
        server.verify().await;
    });
}

fn role_assignment(id: &str, description: &str) -> Grant {
    Grant {
        provider: Provider::Azure,
        kind: "role_assignment".into(),
        id: id.into(),
        principal_id: "sp-1".into(),
        name: "Contributor".into(),
        via: None,
        policy_id: None,
        document: None,
        role: Some("Contributor".into()),
        target: Some("/subscriptions/s1".into()),
        starts_at: None,
        ends_at: None,
        description: Some(description.into()),
        attributes: BTreeMap::from([("tenant".to_string(), Value::from("tenant"))]),
    }
}

fn app_password(key_id: &str, ends: &str) -> Credential {
    Credential {
        provider: Provider::Azure,
        kind: "client_secret".into(),
        id: format!("app-obj/passwordCredentials/{key_id}"),
        name: "ci".into(),
        principal_id: Some("app-obj".into()),
        scope: "tenant".into(),
        active: true,
        created_at: None,
        rotated_at: None,
        expires_at: Some(at(ends)),
        last_used: LastUsed::Unknown,
        hint: None,
        location: None,
        attributes: BTreeMap::from([
            ("key_id".to_string(), Value::from(key_id)),
            ("owner_kind".to_string(), Value::from("application")),
        ]),
    }
}

#[test]
fn azure_deletes_the_expired_assignment_and_removes_the_expired_password() {
    let expired = "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra-1";
    let mut inventory = Inventory::new(at("2025-06-01T00:00:00Z"));
    inventory.grants = vec![
        role_assignment(expired, &format!("temporary lapse:expires-at={PAST} INC-7")),
        role_assignment(
            "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra-2",
            &format!("lapse:expires-at={FUTURE}"),
        ),
        role_assignment(
            "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra-3",
            "no marker",
        ),
    ];
    inventory.credentials = vec![app_password("k-old", PAST), app_password("k-new", FUTURE)];
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(expired))
            .and(header("authorization", "Bearer arm-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": expired,
                "properties": {
                    "principalId": "sp-1",
                    "description": format!("temporary lapse:expires-at={PAST} INC-7")
                }
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path(expired))
            .and(query_param("api-version", "2022-04-01"))
            .and(header("authorization", "Bearer arm-token"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1.0/applications/app-obj/removePassword"))
            .and(header("authorization", "Bearer graph-token"))
            .and(body_json(serde_json::json!({ "keyId": "k-old" })))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let plan = lapse::revoke::plan(&inventory, at("2025-06-01T00:00:00Z"));
        assert_eq!(plan.grants.len(), 2, "{plan:#?}");
        let auth = AzureAuth::Fixed {
            graph: "graph-token".into(),
            arm: "arm-token".into(),
        };
        let executors = Executors {
            azure: Some(
                AzureExecutor::new(reqwest::Client::new(), &server.uri(), &server.uri(), auth)
                    .in_tenant("tenant", &[]),
            ),
            ..Executors::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let journal_path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&journal_path).expect("journal");
        let outcome = lapse::revoke::apply(&plan, &executors, &mut journal)
            .await
            .expect("apply");
        assert_eq!(
            outcome.exit_code(),
            lapse::exit::Code::Clean,
            "{outcome:#?}"
        );
        assert_eq!(server.received_requests().await.expect("recorded").len(), 3);
        server.verify().await;
        drop(journal);

        // The report's view: both performed, per the journal.
        let state = JournalState::load(&journal_path).expect("journal");
        let view = lapse::revoke::revocations(&plan, Some(&state));
        assert!(view.iter().all(|r| r.status == "performed"), "{view:#?}");
        assert!(
            lapse::revoke::revocations(&plan, None)
                .iter()
                .all(|r| r.status == "pending")
        );
    });
}

/// Applies `plan` with only a GitHub executor pointed at `server`, journalling to a temp file.
async fn apply_against_github(
    plan: &lapse::revoke::Plan,
    server: &MockServer,
) -> lapse::revoke::Outcome {
    let executors = Executors {
        github: Some(
            GithubExecutor::new(reqwest::Client::new(), &server.uri(), "test-token".into())
                .for_owners(&["acme"]),
        ),
        ..Executors::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut journal = Journal::open(&dir.path().join("j.jsonl")).expect("journal");
    lapse::revoke::apply(plan, &executors, &mut journal)
        .await
        .expect("apply")
}

// --- The ledger outranks a provider's marker --------------------------------------------------

/// A deploy key and a marked role assignment lapse issued until `ISSUED` (the key's title and the
/// assignment's description say so), extended to `EXTENDED` by a later ledger line (GitHub
/// cannot edit a key's title): `revoke` leaves both alone until the ledger's expiry and says the
/// ledger extended them, then plans each once, from the ledger; `scan` calls them provisional
/// until then.
#[test]
fn the_latest_ledger_line_outranks_the_marker_the_provider_holds() {
    const ISSUED: &str = "2025-06-01T00:00:00Z";
    const EXTENDED: &str = "2025-06-01T04:00:00Z";
    let assignment = "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra-9";
    let mut inventory = Inventory::new(at(ISSUED));
    inventory.credentials = vec![deploy_key(42, &format!("ci [lapse:expires-at={ISSUED}]"))];
    inventory.grants = vec![role_assignment(
        assignment,
        &format!("INC-3 [lapse:expires-at={ISSUED}]"),
    )];
    let text = [
        ledger(Provider::Github, "deploy_key", "acme/api/42", ISSUED),
        ledger(Provider::Azure, "role_assignment", assignment, ISSUED),
        ledger(Provider::Github, "deploy_key", "acme/api/42", EXTENDED),
        ledger(Provider::Azure, "role_assignment", assignment, EXTENDED),
    ]
    .iter()
    .map(|e| serde_json::to_string(e).unwrap() + "\n")
    .collect::<String>();
    inventory.ledger = lapse::revoke::ledger::parse(&text).expect("ledger");

    let between = lapse::analyze::AnalysisContext::at(at("2025-06-01T02:00:00Z"));
    let plan = lapse::revoke::plan::plan_in(&inventory, &between);
    assert!(plan.grants.is_empty(), "{plan:#?}");
    assert_eq!(plan.not_yet_expired, 2, "{plan:#?}");
    let extended: Vec<(&str, &str, String)> = plan
        .extended
        .iter()
        .map(|e| {
            (
                e.resource.kind.as_str(),
                e.marker_source.as_str(),
                e.expires_at.to_rfc3339(),
            )
        })
        .collect();
    let until = at(EXTENDED).to_rfc3339();
    assert_eq!(
        extended,
        [
            ("role_assignment", "description", until.clone()),
            ("deploy_key", "title", until.clone()),
        ],
        "{plan:#?}"
    );
    let shown = lapse::revoke::print::plan_text(&plan, false);
    assert!(shown.contains("the ledger extended it"), "{shown}");

    let analysis = lapse::analyze::analyze(&inventory, &between);
    for kind in ["github.deploy_key", "azure.role_assignment"] {
        let subject = analysis
            .subjects
            .iter()
            .find(|s| s.kind == kind)
            .expect(kind);
        let facts = subject.facts();
        assert_eq!(facts["expiry_source"], "ledger", "{kind}: {facts:?}");
        assert_eq!(facts["provisional"], true, "{kind}: {facts:?}");
        assert_eq!(facts["expired"], false, "{kind}: {facts:?}");
    }

    let after = lapse::analyze::AnalysisContext::at(at("2025-06-01T05:00:00Z"));
    let plan = lapse::revoke::plan::plan_in(&inventory, &after);
    let planned: Vec<(&str, &str, Vec<String>)> = plan
        .grants
        .iter()
        .map(|g| {
            (
                g.resource.kind.as_str(),
                g.marker_source.as_str(),
                g.actions.iter().map(|a| a.describe()).collect(),
            )
        })
        .collect();
    assert_eq!(planned.len(), 2, "each grant once: {plan:#?}");
    assert!(
        planned.iter().all(|(_, source, _)| *source == "ledger"),
        "{plan:#?}"
    );
    assert!(
        planned
            .iter()
            .any(|(kind, _, actions)| *kind == "deploy_key"
                && actions.len() == 1
                && actions[0].contains("acme/api/keys/42")),
        "{planned:?}"
    );
    assert_eq!(
        plan.grants.iter().map(|g| g.expires_at).max(),
        Some(at(EXTENDED))
    );
}
