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
    Credential {
        provider: Provider::Github,
        kind: "deploy_key".into(),
        id: format!("{owner_repo}/keys/{id}"),
        name: format!("deploy [lapse:expires-at={PAST}]"),
        principal_id: None,
        scope: owner_repo.into(),
        active: true,
        created_at: None,
        rotated_at: None,
        expires_at: None,
        last_used: LastUsed::Unknown,
        hint: None,
        location: None,
        attributes: BTreeMap::from([
            ("repository".to_string(), Value::from(owner_repo)),
            ("key_id".to_string(), Value::from(id)),
        ]),
    }
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
        let executors = Executors {
            github: Some(
                GithubExecutor::new(reqwest::Client::new(), &server.uri(), "t".into())
                    .for_owners(&["acme"]),
            ),
            ..Executors::default()
        };
        let outcome = apply(&plan, &executors).await;
        let failed: Vec<_> = outcome.failures().collect();
        assert_eq!(failed.len(), 2, "{outcome:#?}");
        let requests = server.received_requests().await.expect("recorded");
        assert!(requests.is_empty(), "no request may be sent: {requests:?}");
    });
}

#[test]
fn an_azure_grant_in_another_tenant_is_refused_before_any_request() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        let id = "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra-1";
        let grant = Grant {
            provider: Provider::Azure,
            kind: "role_assignment".into(),
            id: id.into(),
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
            attributes: BTreeMap::from([("tenant".to_string(), Value::from("other-tenant"))]),
        };
        let mut inventory = Inventory::new(Utc::now());
        inventory.grants = vec![grant];
        let plan = lapse::revoke::plan(&inventory, Utc::now());
        assert_eq!(plan.action_count(), 1, "{plan:#?}");
        let auth = AzureAuth::Fixed {
            graph: "g".into(),
            arm: "a".into(),
        };
        let executor =
            AzureExecutor::new(reqwest::Client::new(), &server.uri(), &server.uri(), auth)
                .in_tenant("contoso.onmicrosoft.com", &[]);
        let executors = Executors {
            azure: Some(executor),
            ..Executors::default()
        };
        let outcome = apply(&plan, &executors).await;
        let failed: Vec<_> = outcome.failures().collect();
        assert_eq!(failed.len(), 1, "{outcome:#?}");
        assert!(format!("{:?}", failed[0].status).contains("other-tenant"));
        let requests = server.received_requests().await.expect("recorded");
        assert!(requests.is_empty(), "no request may be sent: {requests:?}");
    });
}
