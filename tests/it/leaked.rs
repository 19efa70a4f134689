//! Leaked ↔ live (issue 13 item 6): an AWS access key id found in a repository is joined with
//! the IAM key of that id when the same run reads its account: live through moto (one
//! `iam:GetAccessKeyLastUsed` per leaked id, `iam:ListAccessKeys` per user named), offline
//! from `aws iam list-access-keys` output. An active leaked key is AWS-020 naming its user,
//! last use and effective privilege; neither the key id nor its secret is ever written.

use std::path::Path;

use assert_cmd::Command;
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};

use super::repo_workflows::{checkout_with, git};
use crate::support::moto::{self, Moto};

const AS_OF: &str = "2026-11-20T00:00:00Z";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn lapse(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args(["scan", "--quiet", "--as-of", AS_OF, "--fail-on", "never"])
        .args(["--format", "json,sarif,html,markdown", "--out"])
        .arg(dir.join("out"));
    cmd
}

/// A checkout named `acme/app` (its origin) holding `files`.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = checkout_with(files);
    git(
        dir.path(),
        &["remote", "add", "origin", "https://github.com/acme/app.git"],
    );
    dir
}

fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("out/lapse-report.json")).expect("report");
    serde_json::from_str(&text).expect("report is JSON")
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .collect()
}

/// REPO-006's evidence on the file `path`.
fn repo_finding<'a>(report: &'a Value, path: &str) -> &'a Value {
    findings(report, "REPO-006")
        .into_iter()
        .find(|f| f["evidence"]["path"] == path)
        .unwrap_or_else(|| panic!("no REPO-006 on {path}: {:#}", report["findings"]))
}

/// No file of the run, nor its output, holds any of `values`.
fn never_written(dir: &Path, stdout: &[u8], values: &[&str]) {
    let mut texts = vec![(
        "stdout".to_string(),
        String::from_utf8_lossy(stdout).into_owned(),
    )];
    for entry in std::fs::read_dir(dir.join("out")).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    for (name, text) in texts {
        for value in values {
            assert!(!text.contains(value), "{name} holds a key value");
        }
    }
}

async fn user_with_key(iam: &aws_sdk_iam::Client, name: &str, policy: &str) -> (String, String) {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("user");
    iam.attach_user_policy()
        .user_name(name)
        .policy_arn(policy)
        .send()
        .await
        .expect("attach");
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("key");
    (
        key.access_key_id().to_string(),
        key.secret_access_key().to_string(),
    )
}

#[test]
fn live_scan_resolves_a_leaked_key_to_its_user_last_use_and_privilege() {
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ((admin_id, admin_secret), (old_id, old_secret)) = rt.block_on(async {
        let admin = user_with_key(&iam, "ci-deploy", ADMIN).await;
        let old = user_with_key(&iam, "svc-old", "arn:aws:iam::aws:policy/ReadOnlyAccess").await;
        iam.update_access_key()
            .user_name("svc-old")
            .access_key_id(&old.0)
            .status(StatusType::Inactive)
            .send()
            .await
            .expect("deactivate");
        (admin, old)
    });
    // A key id of an account this run does not scan: never looked up.
    let foreign = "AKIARTX3GSDSQ7HW4ZN2";
    let deploy = format!("AWS_ACCESS_KEY_ID={admin_id}\nAWS_SECRET_ACCESS_KEY={admin_secret}\n");
    let old = format!("aws_access_key_id = {old_id}\naws_secret_access_key = {old_secret}\n");
    let partner = format!("key = \"{foreign}\"\n");
    let checkout = repo(&[
        ("deploy.env", &deploy),
        ("config/old.ini", &old),
        ("partner.toml", &partner),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lapse(dir.path());
    moto.env(&mut cmd);
    let out = cmd
        .arg("--aws")
        .arg("--repo")
        .arg(checkout.path())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();

    let report = report(dir.path());
    assert_eq!(
        report["scan"]["coverage_gaps"],
        json!([]),
        "{:#}",
        report["scan"]
    );
    let calls = &report["scan"]["api_calls"];
    assert_eq!(calls["iam:GetAccessKeyLastUsed"], 2, "{calls:#}");
    assert_eq!(calls["iam:ListAccessKeys"], 2, "{calls:#}");

    let leaked = findings(&report, "AWS-020");
    assert_eq!(leaked.len(), 1, "{leaked:#?}");
    let finding = leaked[0];
    assert_eq!(finding["severity"], "critical");
    assert_eq!(finding["resource"]["provider"], "aws");
    assert_eq!(
        finding["principal_id"],
        "arn:aws:iam::123456789012:user/ci-deploy"
    );
    let evidence = &finding["evidence"];
    assert_eq!(evidence["user"], "ci-deploy", "{evidence:#}");
    assert_eq!(evidence["user_privilege"], "admin", "{evidence:#}");
    // moto records no use of a key: GetAccessKeyLastUsed answers N/A, the report too.
    assert_eq!(evidence["usage"], "never", "{evidence:#}");
    assert_eq!(evidence["last_used_at"], Value::Null, "{evidence:#}");
    assert_eq!(evidence["key_hint"], &admin_id[16..], "{evidence:#}");
    assert_eq!(evidence["leaked_in"], json!(["acme/app/deploy.env:1"]));
    assert_eq!(finding["location"]["path"], "deploy.env", "{finding:#}");

    assert_eq!(
        repo_finding(&report, "deploy.env")["evidence"]["aws_key_state"],
        "active"
    );
    let old = &repo_finding(&report, "config/old.ini")["evidence"];
    assert_eq!(old["aws_key_state"], "inactive", "{old:#}");
    assert_eq!(
        old["aws_key_user"],
        "arn:aws:iam::123456789012:user/svc-old"
    );
    let partner = &repo_finding(&report, "partner.toml")["evidence"];
    assert_eq!(partner["aws_account"], "111122223333", "{partner:#}");
    assert_eq!(partner["aws_key_state"], Value::Null, "{partner:#}");

    never_written(
        dir.path(),
        &out,
        &[&admin_id, &admin_secret, &old_id, &old_secret, foreign],
    );
}

#[test]
fn live_scan_says_when_a_leaked_key_is_gone() {
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (id, _) = rt.block_on(async {
        let key = user_with_key(&iam, "ci-gone", ADMIN).await;
        iam.delete_access_key()
            .user_name("ci-gone")
            .access_key_id(&key.0)
            .send()
            .await
            .expect("delete");
        key
    });
    let checkout = repo(&[("deploy.env", &format!("AWS_ACCESS_KEY_ID={id}\n"))]);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lapse(dir.path());
    moto.env(&mut cmd);
    cmd.arg("--aws")
        .arg("--repo")
        .arg(checkout.path())
        .assert()
        .code(0);
    let report = report(dir.path());
    assert_eq!(report["scan"]["api_calls"]["iam:GetAccessKeyLastUsed"], 1);
    assert_eq!(report["scan"]["api_calls"].get("iam:ListAccessKeys"), None);
    assert!(findings(&report, "AWS-020").is_empty());
    let evidence = &repo_finding(&report, "deploy.env")["evidence"];
    assert_eq!(evidence["aws_key_state"], "absent", "{evidence:#}");
    assert_eq!(evidence["aws_account"], moto::DEFAULT_ACCOUNT);
}

/// The key id moto would give account 111122223333 (its account decodes from the id).
const OFFLINE_KEY: &str = "AKIARTX3GSDSQ4MN7BVC";

fn offline_files(dir: &Path, status: &str) {
    let details = json!({
        "UserDetailList": [{
            "Path": "/", "UserName": "ci-deploy", "UserId": "AIDAEXAMPLE1",
            "Arn": "arn:aws:iam::111122223333:user/ci-deploy",
            "CreateDate": "2025-01-01T00:00:00Z",
            "UserPolicyList": [{"PolicyName": "everything", "PolicyDocument":
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}],
            "GroupList": [], "AttachedManagedPolicies": [], "Tags": []
        }],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": []
    });
    std::fs::write(dir.join("details.json"), details.to_string()).unwrap();
    let keys = json!({"AccessKeyMetadata": [{
        "UserName": "ci-deploy", "AccessKeyId": OFFLINE_KEY, "Status": status,
        "CreateDate": "2026-01-01T00:00:00+00:00"
    }]});
    std::fs::write(dir.join("list-access-keys.json"), keys.to_string()).unwrap();
    let header = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
    let active = if status == "Active" { "true" } else { "false" };
    let row = format!(
        "ci-deploy,arn:aws:iam::111122223333:user/ci-deploy,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,{active},2026-01-01T00:00:00+00:00,2026-11-18T10:00:00+00:00,eu-west-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    );
    std::fs::write(dir.join("report.csv"), format!("{header}\n{row}\n")).unwrap();
}

fn offline_scan(status: &str) -> (Value, Vec<u8>, tempfile::TempDir) {
    let checkout = repo(&[(
        "ci/deploy.sh",
        &format!("#!/bin/sh\nexport AWS_ACCESS_KEY_ID={OFFLINE_KEY}\n"),
    )]);
    let dir = tempfile::tempdir().unwrap();
    offline_files(dir.path(), status);
    let mut cmd = lapse(dir.path());
    moto::isolated_aws_env(&mut cmd);
    let out = cmd
        .args(["--aws-authorization-details", "details.json"])
        .args(["--aws-authorization-details", "list-access-keys.json"])
        .args(["--aws-credential-report", "report.csv", "--repo"])
        .arg(checkout.path())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    (report(dir.path()), out, dir)
}

#[test]
fn offline_list_access_keys_joins_a_leaked_key_with_its_report_slot() {
    let (report, out, dir) = offline_scan("Active");
    assert_eq!(
        report["scan"]["coverage_gaps"],
        json!([]),
        "{:#}",
        report["scan"]
    );
    let leaked = findings(&report, "AWS-020");
    assert_eq!(leaked.len(), 1, "{:#}", report["findings"]);
    let finding = leaked[0];
    assert_eq!(
        finding["resource"]["id"],
        "arn:aws:iam::111122223333:user/ci-deploy/access_key_1"
    );
    let evidence = &finding["evidence"];
    assert_eq!(evidence["user"], "ci-deploy");
    assert_eq!(evidence["account"], "111122223333");
    assert_eq!(evidence["user_privilege"], "admin");
    assert_eq!(
        evidence["last_used_at"], "2026-11-18T10:00:00Z",
        "{evidence:#}"
    );
    assert_eq!(evidence["last_used_service"], "s3");
    assert_eq!(evidence["key_hint"], "7BVC");
    assert_eq!(evidence["leaked_in"], json!(["acme/app/ci/deploy.sh:2"]));
    // The repository's own finding carries the decoded account and the join.
    let repo = &repo_finding(&report, "ci/deploy.sh")["evidence"];
    assert_eq!(repo["aws_account"], "111122223333");
    assert_eq!(repo["aws_key_state"], "active");
    never_written(dir.path(), &out, &[OFFLINE_KEY]);
}

#[test]
fn offline_inactive_leaked_key_is_not_aws_020() {
    let (report, _, _dir) = offline_scan("Inactive");
    assert!(
        findings(&report, "AWS-020").is_empty(),
        "{:#}",
        report["findings"]
    );
    let repo = &repo_finding(&report, "ci/deploy.sh")["evidence"];
    assert_eq!(repo["aws_key_state"], "inactive", "{repo:#}");
}
