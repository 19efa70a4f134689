//! Revoke refusals through the library: a principal deleted and re-created under its name
//! between plan and apply is skipped with nothing changed (moto); an Azure grant of another
//! tenant and a GitHub target of another owner, or with a path-traversal segment, are refused
//! before any request (wiremock records none).

use std::collections::BTreeMap;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::types::StatusType;
use chrono::Utc;
use serde_json::Value;
use wiremock::MockServer;

use lapse::collect::aws::{AwsSessions, LiveOptions};
use lapse::inventory::{Credential, Grant, Inventory, LastUsed, Principal, Provider};
use lapse::revoke::apply::ActionStatus;
use lapse::revoke::aws::AwsExecutor;
use lapse::revoke::azure::{AzureAuth, AzureExecutor};
use lapse::revoke::github::GithubExecutor;
use lapse::revoke::{Executors, Journal, Outcome, Plan};

use crate::support::moto::Moto;

const PAST: &str = "2020-01-01T00:00:00Z";
const ACCOUNT: &str = "111111111111";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn apply(plan: &Plan, executors: &Executors) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut journal = Journal::open(&dir.path().join("j.jsonl")).expect("journal");
    lapse::revoke::apply(plan, executors, &mut journal)
        .await
        .expect("apply")
}

fn expired_user(name: &str, user_id: &str) -> Principal {
    Principal {
        provider: Provider::Aws,
        kind: "user".into(),
        id: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        name: name.into(),
        scope: ACCOUNT.into(),
        path: None,
        created_at: None,
        last_used: LastUsed::Unknown,
        tags: BTreeMap::from([("lapse:expires-at".to_string(), PAST.to_string())]),
        description: None,
        attributes: BTreeMap::from([("user_id".to_string(), Value::from(user_id))]),
    }
}

/// Executors whose AWS sessions use moto's static keys, writing through the role assumed
/// into each account (moto serves any account).
fn aws_executors(moto: &Moto) -> Executors {
    let base = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(
            Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build();
    let opts = LiveOptions {
        revoke_role_arn: Some("arn:aws:iam::{account}:role/LapseRevoke".into()),
        session_seconds: 900,
        max_attempts: 1,
        ..LiveOptions::default()
    };
    Executors {
        aws: Some(AwsExecutor::new(AwsSessions::with_base(base, &opts))),
        ..Executors::default()
    }
}

#[test]
fn a_principal_re_created_between_plan_and_apply_is_skipped() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(async {
        let iam = moto.iam_in(ACCOUNT).await;
        let created = iam
            .create_user()
            .user_name("contractor")
            .send()
            .await
            .expect("user");
        let planned_id = created.user().expect("user").user_id().to_string();
        let mut inventory = Inventory::new(Utc::now());
        inventory.principals = vec![expired_user("contractor", &planned_id)];
        let plan = lapse::revoke::plan(&inventory, Utc::now());
        assert_eq!(plan.grants.len(), 1, "{plan:#?}");
        assert_eq!(
            plan.grants[0].principal_unique_id.as_deref(),
            Some(planned_id.as_str())
        );

        // Deleted and re-created under the same name: another principal.
        iam.delete_user()
            .user_name("contractor")
            .send()
            .await
            .expect("delete");
        iam.create_user()
            .user_name("contractor")
            .send()
            .await
            .expect("re-create");
        iam.create_access_key()
            .user_name("contractor")
            .send()
            .await
            .expect("key");

        let outcome = apply(&plan, &aws_executors(&moto)).await;
        assert!(
            outcome.results.iter().all(|r| matches!(
                &r.status,
                ActionStatus::Skipped { reason } if reason.contains("re-created")
            )),
            "{outcome:#?}"
        );
        assert_eq!(outcome.exit_code(), lapse::exit::Code::Findings);
        let keys = iam
            .list_access_keys()
            .user_name("contractor")
            .send()
            .await
            .expect("keys");
        let statuses: Vec<_> = keys
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.status().cloned())
            .collect();
        assert_eq!(
            statuses,
            vec![StatusType::Active],
            "the new principal is untouched"
        );
    });
}

fn deploy_key(owner_repo: &str, id: u64) -> Credential {
    let title = format!("deploy [lapse:expires-at={PAST}]");
    crate::support::grants::deploy_key(owner_repo, id, &title)
}

/// Executors writing to GitHub owner `acme` only, against `server`.
fn github_executors(server: &MockServer) -> Executors {
    let executor = GithubExecutor::new(reqwest::Client::new(), &server.uri(), "t".into());
    Executors {
        github: Some(executor.for_owners(&["acme"])),
        ..Executors::default()
    }
}

/// The one read the executor makes before acting: `GET route` answers `body`.
async fn mount_read(server: &MockServer, route: &str, body: Value) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

#[test]
fn github_targets_of_another_owner_or_with_dot_segments_are_refused_before_any_request() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        let mut inventory = Inventory::new(Utc::now());
        inventory.credentials = vec![deploy_key("evil/api", 42), deploy_key("acme/..", 43)];
        let plan = lapse::revoke::plan(&inventory, Utc::now());
        assert_eq!(plan.action_count(), 2, "{plan:#?}");
        let outcome = apply(&plan, &github_executors(&server)).await;
        let failed: Vec<_> = outcome.failures().collect();
        assert_eq!(failed.len(), 2, "{outcome:#?}");
        let requests = server.received_requests().await.expect("recorded");
        assert!(requests.is_empty(), "no request may be sent: {requests:?}");
    });
}

const ASSIGNMENT: &str = "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra-1";

/// An expired Owner assignment of `sp-1`, read in `tenant`.
fn role_assignment(tenant: &str) -> Grant {
    Grant {
        provider: Provider::Azure,
        kind: "role_assignment".into(),
        id: ASSIGNMENT.into(),
        principal_id: "sp-1".into(),
        name: "Owner".into(),
        via: None,
        policy_id: None,
        document: None,
        role: Some("Owner".into()),
        target: Some("/subscriptions/s1".into()),
        starts_at: None,
        ends_at: None,
        description: Some(format!("lapse:expires-at={PAST}")),
        attributes: BTreeMap::from([("tenant".to_string(), Value::from(tenant))]),
    }
}

/// An executor writing to tenant contoso only, against `server`.
fn azure_executors(server: &MockServer) -> Executors {
    let auth = AzureAuth::Fixed {
        graph: "g".into(),
        arm: "a".into(),
    };
    let executor = AzureExecutor::new(reqwest::Client::new(), &server.uri(), &server.uri(), auth)
        .in_tenant("contoso.onmicrosoft.com", &[]);
    Executors {
        azure: Some(executor),
        ..Executors::default()
    }
}

#[test]
fn an_azure_grant_in_another_tenant_is_refused_before_any_request() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        let mut inventory = Inventory::new(Utc::now());
        inventory.grants = vec![role_assignment("other-tenant")];
        let plan = lapse::revoke::plan(&inventory, Utc::now());
        assert_eq!(plan.action_count(), 1, "{plan:#?}");
        let outcome = apply(&plan, &azure_executors(&server)).await;
        let failed: Vec<_> = outcome.failures().collect();
        assert_eq!(failed.len(), 1, "{outcome:#?}");
        assert!(format!("{:?}", failed[0].status).contains("other-tenant"));
        let requests = server.received_requests().await.expect("recorded");
        assert!(requests.is_empty(), "no request may be sent: {requests:?}");
    });
}

#[test]
fn an_azure_assignment_now_held_by_another_principal_is_skipped_without_a_delete() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        let body = serde_json::json!({
            "id": ASSIGNMENT,
            "properties": { "principalId": "sp-2", "description": format!("lapse:expires-at={PAST}") }
        });
        mount_read(&server, ASSIGNMENT, body).await;
        let mut inventory = Inventory::new(Utc::now());
        inventory.grants = vec![role_assignment("contoso.onmicrosoft.com")];
        let plan = lapse::revoke::plan(&inventory, Utc::now());
        let outcome = apply(&plan, &azure_executors(&server)).await;
        assert!(
            matches!(&outcome.results[0].status, ActionStatus::Skipped { reason } if reason.contains("sp-2")),
            "{outcome:#?}"
        );
        let requests = server.received_requests().await.expect("recorded");
        assert_eq!(requests.len(), 1, "only the read, no DELETE: {requests:?}");
    });
}

#[test]
fn a_deploy_key_whose_marker_changed_since_the_plan_is_skipped_without_a_delete() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        let body = serde_json::json!({
            "id": 42, "title": "deploy [lapse:expires-at=2099-01-01T00:00:00Z]"
        });
        mount_read(&server, "/repos/acme/api/keys/42", body).await;
        let mut inventory = Inventory::new(Utc::now());
        inventory.credentials = vec![deploy_key("acme/api", 42)];
        let plan = lapse::revoke::plan(&inventory, Utc::now());
        let outcome = apply(&plan, &github_executors(&server)).await;
        assert!(
            matches!(&outcome.results[0].status, ActionStatus::Skipped { reason } if reason.contains("changed")),
            "{outcome:#?}"
        );
        let requests = server.received_requests().await.expect("recorded");
        assert_eq!(requests.len(), 1, "only the read, no DELETE: {requests:?}");
        server.verify().await;
    });
}
