//! Revoke across accounts, end to end: the real `lapse revoke --apply` against moto holding
//! several accounts with look-alike users and roles. Every claim is proven by IAM list calls in
//! each account afterwards: only the target account's expired grant is cut, a crash in one
//! account never makes the next run skip or claim anything in another, a pre-created policy
//! named like lapse's deny is no way around the revocation, and a deny refused by IAM still
//! lets the detaches run (exit 1).

use std::path::Path;

use assert_cmd::Command;
use aws_sdk_iam::types::StatusType;

use crate::support::iam::{
    READ_ONLY, attached, expiry, has_login_profile as has_login, inline, key_states as statuses,
    managed_policy,
};
use crate::support::moto::{DEFAULT_ACCOUNT, Moto};

/// A user in the shape the shared fixture makes, provisional (and expired) or standing.
async fn user(iam: &aws_sdk_iam::Client, name: &str, expired: bool, keys: usize, policy: &str) {
    let marker = expired.then_some(PAST);
    crate::support::iam::user(iam, name, marker, keys, policy).await;
}

async fn user_policies(iam: &aws_sdk_iam::Client, name: &str) -> (usize, usize) {
    let attached = attached(iam, "user", name).await.len();
    (attached, inline(iam, "user", name).await.len())
}

async fn role_policies(iam: &aws_sdk_iam::Client, name: &str) -> (usize, Vec<String>) {
    (
        attached(iam, "role", name).await.len(),
        inline(iam, "role", name).await,
    )
}

const PAST: &str = "2020-01-01T00:00:00Z";
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
const AUDIT_ROLE: &str = "arn:aws:iam::{account}:role/LapseAudit";
const REVOKE_ROLE: &str = "arn:aws:iam::{account}:role/LapseRevoke";
const A: &str = "111111111111";
const B: &str = "222222222222";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn role(iam: &aws_sdk_iam::Client, name: &str, expired: bool, policy: Option<&str>) {
    let mut create = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST);
    if expired {
        create = create.tags(expiry(PAST));
    }
    create.send().await.expect("create role");
    if let Some(arn) = policy {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .expect("attach");
    }
}

async fn inline_role_policy(iam: &aws_sdk_iam::Client, role: &str, name: &str, document: &str) {
    iam.put_role_policy()
        .role_name(role)
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .expect("put role policy");
}

async fn keys(iam: &aws_sdk_iam::Client, user: &str) -> Vec<(String, StatusType)> {
    let out = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .expect("keys");
    let mut keys: Vec<(String, StatusType)> = out
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_string(),
                k.status().cloned().expect("status"),
            )
        })
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys
}

/// `lapse revoke` reading `accounts` through the audit role, journalling in `dir`.
fn revoke(moto: &Moto, dir: &Path, accounts: &str) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    moto.env(&mut cmd);
    cmd.env_remove("RUST_LOG")
        .env_remove("LAPSE_REVOKE_TEST_ABORT_AFTER")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args([
            "revoke",
            "--quiet",
            "--aws-role-arn",
            AUDIT_ROLE,
            "--aws-accounts",
            accounts,
        ])
        .arg("--journal")
        .arg(dir.join("journal.jsonl"));
    cmd
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).to_string()
}

/// Look-alike `contractor` users and `ci-temp` roles in two accounts and in the scanner's own;
/// only account A's are provisional and expired.
async fn look_alikes(moto: &Moto) {
    for (account, expired) in [(A, true), (B, false), (DEFAULT_ACCOUNT, false)] {
        let iam = moto.iam_in(account).await;
        let policy = managed_policy(&iam, "temp-read").await;
        user(&iam, "contractor", expired, 2, &policy).await;
        role(&iam, "ci-temp", expired, Some(&policy)).await;
    }
}

async fn assert_intact(moto: &Moto, account: &str) {
    let iam = moto.iam_in(account).await;
    assert_eq!(
        statuses(&iam, "contractor").await,
        vec![StatusType::Active; 2],
        "{account}"
    );
    assert_eq!(user_policies(&iam, "contractor").await, (1, 1), "{account}");
    assert!(has_login(&iam, "contractor").await, "{account}");
    assert_eq!(
        role_policies(&iam, "ci-temp").await,
        (1, Vec::new()),
        "{account}"
    );
}

#[test]
fn only_the_target_accounts_expired_grant_is_cut_through_its_revoke_role() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(look_alikes(&moto));
    let dir = tempfile::tempdir().expect("tempdir");
    let applied = revoke(&moto, dir.path(), &format!("{A},{B}"))
        .args(["--aws-revoke-role-arn", REVOKE_ROLE, "--apply"])
        .assert()
        .success();
    let out = stdout(&applied);
    rt.block_on(async {
        let iam = moto.iam_in(A).await;
        assert_eq!(
            statuses(&iam, "contractor").await,
            vec![StatusType::Inactive; 2],
            "{out}"
        );
        assert_eq!(user_policies(&iam, "contractor").await, (0, 0), "{out}");
        assert!(!has_login(&iam, "contractor").await);
        let (attached, inline) = role_policies(&iam, "ci-temp").await;
        assert_eq!(attached, 0, "{out}");
        assert!(
            inline.len() == 1 && inline[0].starts_with("LapseRevokeOlderSessions-"),
            "{inline:?}"
        );
        assert_intact(&moto, B).await;
        assert_intact(&moto, DEFAULT_ACCOUNT).await;
    });
}

#[test]
fn without_a_revoke_role_a_foreign_account_is_refused_and_nothing_changes() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(look_alikes(&moto));
    let dir = tempfile::tempdir().expect("tempdir");
    // The ambient credentials are in the scanner's own account, not in A.
    let refused = revoke(&moto, dir.path(), A).arg("--apply").assert().code(1);
    let out = stdout(&refused);
    assert!(
        out.contains(&format!("are in account {DEFAULT_ACCOUNT}")),
        "{out}"
    );
    rt.block_on(async {
        let iam = moto.iam_in(A).await;
        assert_eq!(
            statuses(&iam, "contractor").await,
            vec![StatusType::Active; 2]
        );
        assert_eq!(user_policies(&iam, "contractor").await, (1, 1));
        assert_intact(&moto, DEFAULT_ACCOUNT).await;
    });
}

#[test]
fn a_policy_named_like_lapses_deny_is_no_way_around_the_revocation() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(async {
        let iam = moto.iam_in(A).await;
        role(&iam, "admin-temp", true, None).await;
        inline_role_policy(&iam, "admin-temp", "LapseRevokeOlderSessions", ALLOW_ALL).await;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let applied = revoke(&moto, dir.path(), A)
        .args(["--aws-revoke-role-arn", REVOKE_ROLE, "--apply"])
        .assert()
        .success();
    let out = stdout(&applied);
    rt.block_on(async {
        let iam = moto.iam_in(A).await;
        let (_, inline) = role_policies(&iam, "admin-temp").await;
        for name in &inline {
            let document = iam
                .get_role_policy()
                .role_name("admin-temp")
                .policy_name(name)
                .send()
                .await
                .expect("get role policy");
            let text = percent_encoding::percent_decode_str(document.policy_document())
                .decode_utf8_lossy()
                .to_string();
            assert!(!text.contains("Allow"), "{name}: {text}\n{out}");
        }
        assert_eq!(inline.len(), 1, "only lapse's own deny remains: {inline:?}");
    });
}

#[test]
fn a_crash_in_one_account_neither_skips_nor_claims_anything_in_another() {
    let moto = Moto::start();
    let rt = runtime();
    let person_deactivated = rt.block_on(async {
        for account in [A, B] {
            let iam = moto.iam_in(account).await;
            let policy = managed_policy(&iam, "temp-read").await;
            user(&iam, "bob", true, 2, &policy).await;
        }
        // In A, someone deactivated one of bob's keys long before lapse ran.
        let iam = moto.iam_in(A).await;
        let (id, _) = keys(&iam, "bob").await.remove(0);
        iam.update_access_key()
            .user_name("bob")
            .access_key_id(&id)
            .status(StatusType::Inactive)
            .send()
            .await
            .expect("deactivate");
        id
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let both = format!("{A},{B}");
    // Run 1, on B only, dies after B's bob had his keys deactivated and his login removed.
    revoke(&moto, dir.path(), B)
        .args(["--aws-revoke-role-arn", REVOKE_ROLE, "--apply"])
        .env("LAPSE_REVOKE_TEST_ABORT_AFTER", "2")
        .assert()
        .code(86);
    // Run 2, on both: A's bob is another principal and gets every action.
    let rerun = revoke(&moto, dir.path(), &both)
        .args(["--aws-revoke-role-arn", REVOKE_ROLE, "--apply"])
        .assert()
        .success();
    let out = stdout(&rerun);
    rt.block_on(async {
        for account in [A, B] {
            let iam = moto.iam_in(account).await;
            assert_eq!(
                statuses(&iam, "bob").await,
                vec![StatusType::Inactive; 2],
                "{account}: {out}"
            );
            assert_eq!(user_policies(&iam, "bob").await, (0, 0), "{account}: {out}");
            assert!(!has_login(&iam, "bob").await, "{account}");
        }
    });
    // Run 3, grace over: only the keys lapse deactivated are deleted.
    revoke(&moto, dir.path(), &both)
        .args([
            "--aws-revoke-role-arn",
            REVOKE_ROLE,
            "--grace",
            "0",
            "--apply",
        ])
        .assert()
        .success();
    rt.block_on(async {
        let a = moto.iam_in(A).await;
        assert_eq!(
            keys(&a, "bob").await,
            vec![(person_deactivated.clone(), StatusType::Inactive)],
            "the key a person deactivated is not lapse's to delete"
        );
        let b = moto.iam_in(B).await;
        assert!(keys(&b, "bob").await.is_empty());
    });
}

/// moto enforces IAM policies once told to (`/moto-api/reset-auth`); `inf` turns it off again.
fn enforce_iam(moto: &Moto, on: bool) {
    let body = if on { "0" } else { "inf" };
    let url = format!("{}/moto-api/reset-auth", moto.endpoint);
    let response = runtime()
        .block_on(reqwest::Client::new().post(url).body(body).send())
        .expect("moto reset-auth");
    assert!(response.status().is_success(), "moto reset-auth");
}

#[test]
fn a_deny_iam_refuses_still_lets_the_detaches_run_and_exits_1() {
    let moto = Moto::start();
    let rt = runtime();
    let runner = rt.block_on(async {
        // The scanner: a real IAM user in moto's default account, allowed to assume roles.
        let home = moto.iam();
        home.create_user().user_name("lapse-runner").send().await.expect("runner");
        home.put_user_policy()
            .user_name("lapse-runner")
            .policy_name("assume")
            .policy_document(ALLOW_ALL)
            .send()
            .await
            .expect("runner policy");
        let key = home.create_access_key().user_name("lapse-runner").send().await.expect("key");
        let key = key.access_key().expect("access key");
        let iam = moto.iam_in(A).await;
        for name in ["LapseAudit", "LapseRevoke"] {
            role(&iam, name, false, None).await;
            inline_role_policy(&iam, name, "access", ALLOW_ALL).await;
        }
        // The revoke role may not write inline policies: the session cutoff will fail.
        let no_put = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:PutRolePolicy","Resource":"*"}]}"#;
        inline_role_policy(&iam, "LapseRevoke", "no-put", no_put).await;
        let policy = managed_policy(&iam, "temp-read").await;
        role(&iam, "ci-temp", true, Some(&policy)).await;
        inline_role_policy(&iam, "ci-temp", "inline-read", READ_ONLY).await;
        (key.access_key_id().to_string(), key.secret_access_key().to_string())
    });
    enforce_iam(&moto, true);
    let dir = tempfile::tempdir().expect("tempdir");
    let applied = revoke(&moto, dir.path(), A)
        .env("AWS_ACCESS_KEY_ID", &runner.0)
        .env("AWS_SECRET_ACCESS_KEY", &runner.1)
        .args(["--aws-revoke-role-arn", REVOKE_ROLE, "--apply"])
        .assert()
        .code(1);
    let out = stdout(&applied);
    enforce_iam(&moto, false);
    assert!(
        out.contains("iam:PutRolePolicy") && out.contains("denied"),
        "{out}"
    );
    rt.block_on(async {
        let iam = moto.iam_in(A).await;
        assert_eq!(
            role_policies(&iam, "ci-temp").await,
            (0, Vec::new()),
            "{out}"
        );
    });
}
